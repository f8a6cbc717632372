import { defineConfig } from 'vitest/config'
import { sharedTestOptions, slowTestFiles } from './vitest.config.ts'

// `npm run test:slow`: only the slow files, with the pool of `npm test`. One claim alone took almost eight minutes
// on a loaded 2-core machine, so the hang guard here is an hour.
const slowHangTimeout = 3_600_000

export default defineConfig({
  test: {
    ...sharedTestOptions,
    testTimeout: slowHangTimeout,
    hookTimeout: slowHangTimeout,
    include: [slowTestFiles],
  },
})
