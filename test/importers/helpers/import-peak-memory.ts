import { spawnSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Peak memory of `tiller import gguf` in a child process: the process reports its own maxRSS on exit through the
 * preloaded test/helpers/peak-memory-reporter.mjs, so the figure is the CLI's alone, not the test runner's.
 */

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..')
const reporter = join(root, 'test', 'helpers', 'peak-memory-reporter.mjs')
const bin = join(root, 'bin', 'tiller.mjs')

/** What one child import used: peak resident memory and CPU time, with its output. */
export interface ImportPeak {
  maxRssBytes: number
  cpuSeconds: number
  status: number | null
  stdout: string
  stderr: string
}

/**
 * V8 grows its young generation (up to 16 MB a semi-space) under allocation pressure, by an amount that varies from
 * run to run: with it, the same two imports' peaks differed by 26–67 MB. Capped at 2 MB, the peak is what the
 * import holds, give or take a few MB (3–18 MB for the same pair), and the tests compare retained memory.
 */
const youngGeneration = '--max-semi-space-size=2'

/** Runs `tiller <args>` in a child process that reports its peak memory into `usageFile`. */
export function runTillerMeasured(args: string[], usageFile: string): ImportPeak {
  const result = spawnSync(process.execPath, [youngGeneration, '--import', reporter, bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, TILLER_PEAK_MEMORY_FILE: usageFile },
  })
  const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { maxRssBytes: number; cpuSeconds: number }
  return { ...usage, status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** `tiller import gguf FILE --out DIR --dtype DTYPE` measured. */
export function measureImport(file: string, outDir: string, dtype: string, usageFile: string): ImportPeak {
  return runTillerMeasured(['import', 'gguf', file, '--out', outDir, '--dtype', dtype], usageFile)
}

/** A megabyte as the CLI prints them (10^6 bytes). */
export const megabyte = 1e6

/** Size of a file in bytes. */
export function fileBytes(path: string): number {
  return statSync(path).size
}
