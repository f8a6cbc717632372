import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import defaultConfig, { slowTestFiles } from '../vitest.config.ts'
import slowConfig from '../vitest.slow.config.ts'

/**
 * `npm test` must pass on a busy machine and stay short on a quiet one: claims that take minutes are in
 * `*.slow.test.ts` files (`npm run test:slow`), and timeouts are only there to catch hangs.
 */

const organismFast = new URL('./organism/organism-model.test.ts', import.meta.url)
const organismSlow = new URL('./organism/organism-claims.slow.test.ts', import.meta.url)

describe('the test suite configuration', () => {
  it('leaves the slow files out of npm test and runs only them in npm run test:slow', () => {
    expect(slowTestFiles).toBe('test/**/*.slow.test.ts')
    expect(defaultConfig.test?.include).toEqual(['test/**/*.test.ts'])
    expect(defaultConfig.test?.exclude).toContain(slowTestFiles)
    expect(slowConfig.test?.include).toEqual([slowTestFiles])
    const scripts = (
      JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
        scripts: Record<string, string>
      }
    ).scripts
    expect(scripts['test:slow']).toBe('vitest run --config vitest.slow.config.ts')
    expect(scripts['test']).toMatch(/vitest run$/)
  })

  it("keeps the organism's re-measuring claims out of the file npm test runs", () => {
    const fast = readFileSync(organismFast, 'utf8')
    const slow = readFileSync(organismSlow, 'utf8')
    for (const measuring of ['fitFromDemonstrations', 'measureBehaviours', 'measureContextInfluence']) {
      expect(fast, measuring).not.toContain(measuring)
      expect(slow, measuring).toContain(measuring)
    }
  })

  it('has timeouts that only catch hangs (ten minutes or more) in both configurations', () => {
    for (const config of [defaultConfig, slowConfig]) {
      expect(config.test?.testTimeout).toBeGreaterThanOrEqual(600_000)
      expect(config.test?.hookTimeout).toBeGreaterThanOrEqual(600_000)
      expect(config.test?.expect?.poll?.timeout).toBeGreaterThanOrEqual(600_000)
    }
  })
})
