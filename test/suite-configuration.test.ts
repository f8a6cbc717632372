import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import defaultConfig, { endToEndTestFiles, isolatedTestFiles, slowTestFiles } from '../vitest.config.ts'
import endToEndConfig from '../vitest.e2e.config.ts'
import slowConfig from '../vitest.slow.config.ts'

/**
 * `npm test` must pass on a busy machine and stay short on a quiet one: claims that take minutes are in
 * `*.slow.test.ts` files (`npm run test:slow`), the studio in Chromium is `npm run test:e2e`, the static checks are
 * `npm run check`, and timeouts are only there to catch hangs.
 */

interface ProjectOptions {
  test: { name: string; include: string[]; exclude?: string[]; isolate?: boolean }
}

const organismFast = new URL('./organism/organism-model.test.ts', import.meta.url)
const organismSlow = new URL('./organism/organism-claims.slow.test.ts', import.meta.url)

describe('the test suite configuration', () => {
  it('leaves the slow and end-to-end files out of npm test, and each other command runs only its own', () => {
    expect(slowTestFiles).toBe('test/**/*.slow.test.ts')
    expect(endToEndTestFiles).toBe('test/e2e/**/*.test.ts')
    const projects = defaultConfig.test?.projects as ProjectOptions[]
    const [shared, isolated] = projects.map((project) => project.test)
    expect(shared?.include).toEqual(['test/**/*.test.ts'])
    expect(shared?.exclude).toEqual(
      expect.arrayContaining([slowTestFiles, endToEndTestFiles, ...isolatedTestFiles]),
    )
    expect(shared?.isolate).toBe(false)
    expect(isolated?.include).toEqual(isolatedTestFiles)
    expect(isolated?.isolate).toBeUndefined()
    expect(slowConfig.test?.include).toEqual([slowTestFiles])
    expect(endToEndConfig.test?.include).toEqual([endToEndTestFiles])
    const scripts = (
      JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
        scripts: Record<string, string>
      }
    ).scripts
    expect(scripts['test']).toBe('vitest run')
    expect(scripts['test:slow']).toBe('vitest run --config vitest.slow.config.ts')
    expect(scripts['test:e2e']).toBe('vitest run --config vitest.e2e.config.ts')
    const ci = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8')
    for (const command of ['npm ci', 'npm run check', 'npm test', 'npm run test:e2e'])
      expect(ci).toContain(command)
  })

  it('gives fresh modules to every file that mocks a module or changes the environment', () => {
    const mocking = readdirSync(new URL('.', import.meta.url), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.test.ts') && !file.startsWith('e2e'))
      .filter((file) => {
        const source = readFileSync(new URL(file, import.meta.url), 'utf8')
        return /vi\.mock\(|vi\.stub|process\.env(\.\w+|\[[^\]]+\]) = |delete process\.env/.test(source)
      })
      .map((file) => `test/${file}`)
    expect(mocking.length).toBeGreaterThan(0)
    expect(isolatedTestFiles).toEqual(expect.arrayContaining(mocking))
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
    for (const config of [defaultConfig, slowConfig, endToEndConfig]) {
      expect(config.test?.testTimeout).toBeGreaterThanOrEqual(600_000)
      expect(config.test?.hookTimeout).toBeGreaterThanOrEqual(600_000)
      expect(config.test?.expect?.poll?.timeout).toBeGreaterThanOrEqual(600_000)
    }
  })
})
