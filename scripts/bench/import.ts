/**
 * `npm run bench -- import [--repeats R] [--dtypes q4,float16] [--source q8_0|q4_k]`: `tiller import gguf` against a
 * plain copy of the same file. A synthetic GGUF of TinyLlama's shape with Q8_0 matrices (1.17 GB), or Q4_K ones
 * (0.62 GB, whose q4 import fits 4-bit zero points), built by test/importers/helpers/synthetic-gguf.ts once into
 * .cache/bench/import/; then, interleaved so that a change in machine load hits every variant alike,
 * each repeat runs `cp` of the file, a Node process that reads it once in 8 MB pieces and writes them out with a
 * final fsync (support/read-write.mjs: the floor of a streaming import in user space, where `cp` may copy inside the
 * kernel), and one import per dtype, each a child process. Prints per variant the median wall time, CPU time
 * (user + system) and peak resident memory (the import reports its own through test/helpers/peak-memory-reporter.mjs;
 * the baselines' is not measured), and the ratio of each to the copy and to the read-and-write pass.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { GGMLQuantizationType } from '@huggingface/gguf'
import { buildCli, isBuildFresh } from '../build-cli.mjs'
import { tinyLlamaShape, writeSyntheticGguf } from '../../test/importers/helpers/synthetic-gguf.ts'
import { median } from './support/timing.ts'

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..')
const cacheFolder = join(root, '.cache', 'bench', 'import')
const sourceTypes = { q8_0: GGMLQuantizationType.Q8_0, q4_k: GGMLQuantizationType.Q4_K } as const
const reporter = join(root, 'test', 'helpers', 'peak-memory-reporter.mjs')
const readWrite = join(root, 'scripts', 'bench', 'support', 'read-write.mjs')
const bin = join(root, 'bin', 'tiller.mjs')

interface Measurement {
  wallSeconds: number
  cpuSeconds: number | undefined
  peakBytes: number | undefined
}

/** CPU seconds of this process's finished children (Linux /proc/self/stat cutime + cstime), or undefined. */
function childrenCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[13]) + Number(fields[14])
    // USER_HZ is 100 on every mainstream Linux architecture.
    return Number.isFinite(ticks) ? ticks / 100 : undefined
  } catch {
    return undefined
  }
}

function measure(command: string, args: string[], usageFile?: string): Measurement {
  const cpuBefore = childrenCpuSeconds()
  const start = performance.now()
  const result = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    env: usageFile === undefined ? process.env : { ...process.env, TILLER_PEAK_MEMORY_FILE: usageFile },
  })
  const wallSeconds = (performance.now() - start) / 1000
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`)
  const cpuAfter = childrenCpuSeconds()
  const cpuSeconds = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore
  if (usageFile === undefined) return { wallSeconds, cpuSeconds, peakBytes: undefined }
  const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { maxRssBytes: number; cpuSeconds: number }
  return { wallSeconds, cpuSeconds: usage.cpuSeconds, peakBytes: usage.maxRssBytes }
}

/** The synthetic GGUF with `type` matrices, written unless it is already in the cache. */
function ensureSource(type: keyof typeof sourceTypes): string {
  const source = join(cacheFolder, `tinyllama-shape-${type}.gguf`)
  if (existsSync(source)) return source
  mkdirSync(cacheFolder, { recursive: true })
  process.stdout.write(`Building ${source} (TinyLlama shape, ${type.toUpperCase()})…\n`)
  writeSyntheticGguf(source, tinyLlamaShape(), sourceTypes[type])
  return source
}

const format = (value: number | undefined, digits: number): string =>
  value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits)

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      repeats: { type: 'string', default: '2' },
      dtypes: { type: 'string', default: 'q4,float16' },
      source: { type: 'string', default: 'q8_0' },
    },
  })
  const sourceType = values.source
  if (!(sourceType in sourceTypes)) throw new Error(`--source is q8_0 or q4_k, not ${sourceType}.`)
  const repeats = Number(values.repeats)
  const dtypes = values.dtypes.split(',')
  if (!isBuildFresh()) await buildCli()
  const source = ensureSource(sourceType as keyof typeof sourceTypes)
  const fileBytes = statSync(source).size
  const scratch = join(cacheFolder, 'scratch')
  const names = [
    'cp (plain copy)',
    'read + write + fsync (Node)',
    ...dtypes.map((dtype) => `tiller import --dtype ${dtype}`),
  ]
  const results = new Map<string, Measurement[]>(names.map((name) => [name, []]))
  const outputBytes = new Map<string, number>()
  const loadBefore = loadavg()
  // An untimed copy puts the file in the page cache, as later runs find it.
  measure('cp', [source, join(cacheFolder, 'warm.gguf')])
  rmSync(join(cacheFolder, 'warm.gguf'), { force: true })
  for (let repeat = 0; repeat < repeats; repeat++) {
    rmSync(scratch, { recursive: true, force: true })
    mkdirSync(scratch, { recursive: true })
    results.get(names[0] as string)?.push(measure('cp', [source, join(scratch, 'copy.gguf')]))
    rmSync(join(scratch, 'copy.gguf'), { force: true })
    results
      .get(names[1] as string)
      ?.push(measure(process.execPath, [readWrite, source, join(scratch, 'read-write.gguf')]))
    rmSync(join(scratch, 'read-write.gguf'), { force: true })
    for (const dtype of dtypes) {
      const outDir = join(scratch, dtype)
      const usageFile = join(scratch, `${dtype}.json`)
      const measurement = measure(
        process.execPath,
        ['--import', reporter, bin, 'import', 'gguf', source, '--out', outDir, '--dtype', dtype],
        usageFile,
      )
      results.get(`tiller import --dtype ${dtype}`)?.push(measurement)
      const onnx = join(outDir, 'onnx')
      outputBytes.set(
        dtype,
        spawnSync('du', ['-sb', onnx], { encoding: 'utf8' }).stdout.split('\t').map(Number)[0] ?? Number.NaN,
      )
      rmSync(outDir, { recursive: true, force: true })
    }
  }
  rmSync(scratch, { recursive: true, force: true })
  const loadAfter = loadavg()
  const copyWall = median((results.get(names[0] as string) ?? []).map((entry) => entry.wallSeconds))
  const readWriteWall = median((results.get(names[1] as string) ?? []).map((entry) => entry.wallSeconds))
  process.stdout.write(
    `import of a ${(fileBytes / 1e9).toFixed(2)} GB ${sourceType.toUpperCase()} GGUF (TinyLlama shape), median of ${repeats} interleaved ` +
      `runs; load average ${loadBefore.map((load) => load.toFixed(2)).join(' ')} → ` +
      `${loadAfter.map((load) => load.toFixed(2)).join(' ')} on ${availableParallelism()} cores:\n`,
  )
  for (const name of names) {
    const list = results.get(name) ?? []
    const wall = median(list.map((entry) => entry.wallSeconds))
    const cpu = median(list.flatMap((entry) => (entry.cpuSeconds === undefined ? [] : [entry.cpuSeconds])))
    const peaks = list.flatMap((entry) => (entry.peakBytes === undefined ? [] : [entry.peakBytes]))
    const peak = peaks.length === 0 ? undefined : Math.max(...peaks) / 1e6
    const dtype = name.split(' ').at(-1) ?? ''
    const written = outputBytes.get(dtype)
    process.stdout.write(
      `  ${name.padEnd(30)} wall ${format(wall, 1).padStart(6)} s (${format(wall / copyWall, 1)}× copy, ` +
        `${format(wall / readWriteWall, 1)}× read + write)  ` +
        `CPU ${format(cpu, 1).padStart(6)} s  peak RSS ${format(peak, 0).padStart(5)} MB` +
        (written === undefined ? '' : `  output ${(written / 1e9).toFixed(2)} GB`) +
        '\n',
    )
  }
}
