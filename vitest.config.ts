import vue from '@vitejs/plugin-vue'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { configDefaults, defineConfig } from 'vitest/config'

/** Files `npm run test:slow` runs and `npm test` leaves out: claims that take minutes to re-measure. */
export const slowTestFiles = 'test/**/*.slow.test.ts'

// Timeouts only catch hangs: on a machine shared with other work a test may run many times slower than on an idle
// one and must still pass. Model tests build ONNX sessions; two cores run them best one file at a time per worker.
const hangTimeout = 600_000

/** Tests never read or write the user's own workspace: each run gets its own folder (removed by the global setup). */
const testWorkspace = join(tmpdir(), `tiller-test-workspace-${process.pid}`)

/** Options both configurations share. */
export const sharedTestOptions = {
  env: { TILLER_WORKSPACE: testWorkspace },
  globalSetup: 'test/helpers/test-workspace-setup.ts',
  testTimeout: hangTimeout,
  hookTimeout: hangTimeout,
  expect: { poll: { timeout: hangTimeout } },
  pool: 'forks',
  maxWorkers: 2,
} as const

export default defineConfig({
  // Renderer component tests import .vue files.
  plugins: [vue()],
  test: {
    ...sharedTestOptions,
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, slowTestFiles],
  },
})
