import { expect, it } from 'vitest'

import { formatReference, fuzzFormatIsolated } from './isolated.ts'

/** The seed `npm test` fuzzes from; long runs (`npm run fuzz`) choose their own. */
export const testSeed = 1

/**
 * Cases per format in `npm test`: as many as keep the whole fuzz folder near 20 s of CPU on a 2-core machine
 * (`time npx vitest run test/fuzz`; test/README.md has the measurement).
 */
export const casesPerFormat = 200

/**
 * Registers the fuzz test of one format (by its name in formats.ts): `cases` damaged inputs, run in a worker
 * thread that is terminated on a hang, each must parse or give a TillerError. The damage must also reach the
 * reader's checks (some cases refused), else the generator is broken and the test proves nothing.
 */
export function fuzzTest(format: string, description: string, cases = casesPerFormat): void {
  it(`${cases} damaged ${description} each parse or give a TillerError`, async () => {
    const summary = await fuzzFormatIsolated(formatReference(format), cases, testSeed)
    expect(summary.findings).toEqual([])
    expect(summary.parsed + summary.refused).toBe(cases)
    expect(summary.refused).toBeGreaterThan(0)
  })
}
