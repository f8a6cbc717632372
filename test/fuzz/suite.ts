import { expect, it } from 'vitest'

import { fuzzFormat, type FuzzFormat } from './harness.ts'

/** The seed `npm test` fuzzes from; long runs (`npm run fuzz`) choose their own. */
export const testSeed = 1

/**
 * Registers the fuzz test of one format: `cases` damaged inputs, each must parse or give a TillerError. The damage
 * must also reach the reader's checks (some cases refused), else the generator is broken and the test proves
 * nothing.
 */
export function fuzzTest(format: FuzzFormat, cases: number, description: string): void {
  it(`${cases} damaged ${description} each parse or give a TillerError`, async () => {
    const summary = await fuzzFormat(format, cases, testSeed)
    expect(summary.findings).toEqual([])
    expect(summary.parsed + summary.refused).toBe(cases)
    expect(summary.refused).toBeGreaterThan(0)
  })
}
