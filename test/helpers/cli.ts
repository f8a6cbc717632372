import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { main } from '../../src/main/cli/index.ts'

/**
 * Running the `tiller` command line from tests: in this process (fast; the same `main` bin/tiller.mjs calls) or as
 * a child process (exit codes and output exactly as a shell sees them).
 */

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..')

/** What a CLI run printed and returned. `output` is stdout and stderr interleaved in the order written. */
export interface CliRun {
  code: number
  stdout: string
  stderr: string
  output: string
}

/** Run `tiller <args>` in this process, capturing what it writes to stdout and stderr. */
export async function runTiller(args: string[]): Promise<CliRun> {
  const streams = { stdout: '', stderr: '', output: '' }
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write }
  const capture = (name: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
      streams[name] += text
      streams.output += text
      return true
    }) as typeof process.stdout.write
  process.stdout.write = capture('stdout')
  process.stderr.write = capture('stderr')
  try {
    const code = await main(args)
    return { code, ...streams }
  } finally {
    process.stdout.write = originals.stdout
    process.stderr.write = originals.stderr
  }
}

/** Run `bin/tiller.mjs <args>` as a child process from the repository root. */
export function spawnTiller(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(root, 'bin', 'tiller.mjs'), ...args], {
    cwd: root,
    encoding: 'utf8',
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}
