/**
 * `npm run bench -- <name> [options]`: runs the benchmark in `scripts/bench/<name>.ts`.
 *
 * Each benchmark module exports `run(args: string[]): Promise<void>` and prints its own measurements. Benchmarks are
 * scripts, not tests: they measure side by side in one run and print ratios; nothing asserts a wall-clock time.
 */
import { existsSync, readdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** What a benchmark module provides. */
export interface Benchmark {
  run(args: string[]): Promise<void>
}

const folder = join(dirname(fileURLToPath(import.meta.url)), 'bench')

function available(): string[] {
  return readdirSync(folder)
    .filter((file) => file.endsWith('.ts'))
    .map((file) => basename(file, '.ts'))
    .sort()
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`Usage: npm run bench -- <name> [options]\nBenchmarks: ${available().join(', ')}\n`)
    return name === undefined ? 1 : 0
  }
  const path = join(folder, `${name}.ts`)
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !existsSync(path)) {
    process.stderr.write(`bench: no benchmark "${name}"; available: ${available().join(', ')}\n`)
    return 2
  }
  const module = (await import(pathToFileURL(path).href)) as Partial<Benchmark>
  if (typeof module.run !== 'function') {
    process.stderr.write(`bench: ${path} does not export run(args)\n`)
    return 2
  }
  await module.run(rest)
  return 0
}

process.exitCode = await main(process.argv.slice(2))
