import vue from '@vitejs/plugin-vue'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { configDefaults, defineConfig } from 'vitest/config'

/** Files `npm run test:slow` runs and `npm test` leaves out: claims that take minutes to re-measure. */
export const slowTestFiles = 'test/**/*.slow.test.ts'

/** Files `npm run test:e2e` runs and `npm test` leaves out: the studio driven in Chromium. */
export const endToEndTestFiles = 'test/e2e/**/*.test.ts'

/**
 * Files that mock modules or change `process.env`: each gets fresh modules. Every other file shares its worker's
 * loaded modules with the files before it, which halves the suite's time spent importing ONNX Runtime and
 * Transformers.js.
 */
export const isolatedTestFiles = [
  'test/app/engine-process.test.ts',
  'test/contract/electron-bridge.test.ts',
  'test/workspace/mirror-file.test.ts',
  'test/workspace/file-hash-cache.test.ts',
  'test/workspace/cache-folders.test.ts',
  'test/edits/fingerprint.test.ts',
  'test/edits/steered-export.test.ts',
  'test/edits/steered-export-cli.test.ts',
  'test/compiler/read-only.test.ts',
  'test/models/pull.test.ts',
  'test/exporter/block-workers.test.ts',
]

// Timeouts only catch hangs: on a machine shared with other work a test may run many times slower than on an idle
// one and must still pass. Model tests build ONNX sessions; two cores run them best one file at a time per worker.
const hangTimeout = 600_000

/** Tests never read or write the user's own workspace: each run gets its own folder (removed by the global setup). */
const testWorkspace = join(tmpdir(), `tiller-test-workspace-${process.pid}`)

/** Options every configuration shares. */
export const sharedTestOptions = {
  env: { TILLER_WORKSPACE: testWorkspace },
  globalSetup: 'test/helpers/test-workspace-setup.ts',
  testTimeout: hangTimeout,
  hookTimeout: hangTimeout,
  expect: { poll: { timeout: hangTimeout } },
  pool: 'forks',
  maxWorkers: 2,
} as const

const excluded = [...configDefaults.exclude, slowTestFiles, endToEndTestFiles]

export default defineConfig({
  // Renderer component tests import .vue files.
  plugins: [vue()],
  test: {
    ...sharedTestOptions,
    // Each project names its own files: a project extending the root would add the root's include to its own.
    projects: [
      {
        extends: true,
        test: {
          name: 'shared-modules',
          isolate: false,
          include: ['test/**/*.test.ts'],
          exclude: [...excluded, ...isolatedTestFiles],
        },
      },
      { extends: true, test: { name: 'isolated', include: isolatedTestFiles } },
    ],
  },
})
