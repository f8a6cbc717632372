/**
 * `npm run bench -- startup [--repeats R]`: whole-process wall time of `tiller --help` and of a 16-token
 * `tiller generate` on the embedded organism, the compiled CLI (out/cli, what bin/tiller.mjs runs) against the
 * TypeScript sources through tsx (TILLER_CLI_SOURCE=1, the old start), with bare `node -e 0` as the floor.
 * Repetitions interleave the variants so a change in machine load hits them all alike; medians and ratios print,
 * with each process's CPU time (user + system, from /proc on Linux) beside its wall time. `--baseline <checkout>`
 * adds the compiled CLI of another checkout (an older commit, extracted with its node_modules linked and
 * `node scripts/build-cli.mjs` run in it) to the same interleaved runs, for before ÷ after ratios.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildCli, isBuildFresh } from '../build-cli.mjs'
import { median } from './support/timing.ts'

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..')
const bin = join(root, 'bin', 'tiller.mjs')

interface Variant {
  name: string
  args: string[]
  environment: Record<string, string>
}

const generateArgs = ['generate', '--prompt', 'Once upon a time', '--max-tokens', '16', '--temperature', '0']

const baseVariants: Variant[] = [
  { name: 'node -e 0 (floor)', args: ['-e', '0'], environment: {} },
  { name: 'tiller --help, compiled', args: [bin, '--help'], environment: {} },
  { name: 'tiller --help, tsx', args: [bin, '--help'], environment: { TILLER_CLI_SOURCE: '1' } },
  { name: 'generate 16 tokens, compiled', args: [bin, ...generateArgs], environment: {} },
  { name: 'generate 16 tokens, tsx', args: [bin, ...generateArgs], environment: { TILLER_CLI_SOURCE: '1' } },
]

/** The compiled CLI of the checkout at `folder`, run through its own bin/tiller.mjs. */
function baselineVariants(folder: string): Variant[] {
  const baselineBin = join(resolve(folder), 'bin', 'tiller.mjs')
  return [
    { name: 'tiller --help, baseline', args: [baselineBin, '--help'], environment: {} },
    { name: 'generate 16 tokens, baseline', args: [baselineBin, ...generateArgs], environment: {} },
  ]
}

/**
 * CPU seconds (user + system) of this process's finished children, from /proc/self/stat (Linux; undefined
 * elsewhere). Less sensitive to machine load than wall time: a busy machine delays a process but adds little work.
 */
function childrenCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17 (1-based).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[13]) + Number(fields[14])
    return Number.isFinite(ticks) ? ticks / clockTicksPerSecond : undefined
  } catch {
    return undefined
  }
}

/** Linux's USER_HZ, 100 on every mainstream architecture. */
const clockTicksPerSecond = 100

function timeProcess(variant: Variant, cpu: Map<string, number[]>): number {
  const cpuBefore = childrenCpuSeconds()
  const start = performance.now()
  const result = spawnSync(process.execPath, variant.args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...variant.environment },
  })
  const elapsed = performance.now() - start
  if (result.status !== 0) throw new Error(`${variant.name} exited ${result.status}: ${result.stderr}`)
  const cpuAfter = childrenCpuSeconds()
  if (cpuBefore !== undefined && cpuAfter !== undefined) cpu.get(variant.name)?.push(cpuAfter - cpuBefore)
  return elapsed
}

/** Runs the benchmark and prints median whole-process seconds and the tsx ÷ compiled ratios. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { repeats: { type: 'string', default: '9' }, baseline: { type: 'string' } },
  })
  const repeats = Number(values.repeats)
  const variants = [
    ...baseVariants,
    ...(values.baseline === undefined ? [] : baselineVariants(values.baseline)),
  ]
  if (!isBuildFresh()) await buildCli()
  const times = new Map<string, number[]>(variants.map((variant) => [variant.name, []]))
  const cpu = new Map<string, number[]>(variants.map((variant) => [variant.name, []]))
  const warmUp = new Map<string, number[]>()
  const loadBefore = loadavg()[0] ?? Number.NaN
  // One untimed round warms the file cache.
  for (const variant of variants) timeProcess(variant, warmUp)
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const variant of variants) times.get(variant.name)?.push(timeProcess(variant, cpu))
  }
  const loadAfter = loadavg()[0] ?? Number.NaN
  const medians = new Map([...times].map(([name, list]) => [name, median(list) / 1000]))
  process.stdout.write(
    `startup, whole process, median of ${repeats} interleaved runs (load average ${loadBefore.toFixed(2)} → ` +
      `${loadAfter.toFixed(2)}):\n`,
  )
  for (const [name, seconds] of medians) {
    const list = times.get(name) ?? []
    const cpuList = cpu.get(name) ?? []
    const cpuText = cpuList.length > 0 ? `, CPU ${median(cpuList).toFixed(2)} s` : ''
    process.stdout.write(
      `  ${name.padEnd(30)} ${seconds.toFixed(3)} s  (fastest ${(Math.min(...list) / 1000).toFixed(3)} s${cpuText})\n`,
    )
  }
  const ratio = (slow: string, fast: string) => (medians.get(slow) ?? NaN) / (medians.get(fast) ?? NaN)
  process.stdout.write(
    `  tsx ÷ compiled: --help ${ratio('tiller --help, tsx', 'tiller --help, compiled').toFixed(2)}×, ` +
      `generate ${ratio('generate 16 tokens, tsx', 'generate 16 tokens, compiled').toFixed(2)}×\n`,
  )
  if (values.baseline !== undefined) {
    const cpuRatio = (slow: string, fast: string) => median(cpu.get(slow) ?? []) / median(cpu.get(fast) ?? [])
    process.stdout.write(
      `  baseline ÷ compiled: --help ${ratio('tiller --help, baseline', 'tiller --help, compiled').toFixed(2)}× ` +
        `(CPU ${cpuRatio('tiller --help, baseline', 'tiller --help, compiled').toFixed(2)}×), generate ` +
        `${ratio('generate 16 tokens, baseline', 'generate 16 tokens, compiled').toFixed(2)}× ` +
        `(CPU ${cpuRatio('generate 16 tokens, baseline', 'generate 16 tokens, compiled').toFixed(2)}×)\n`,
    )
  }
}
