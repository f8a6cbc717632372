/**
 * Block kernels (block-kernels.ts) run over a weight in chunks, on worker threads beside the exporting thread:
 * fitting 4-bit zero points is most of a Q4_K → q4 import's time and requantizing most of a Q8_0 or F16 → q4 one,
 * and their blocks are independent. The export stays synchronous: the exporting thread hands each worker a chunk of
 * blocks in shared memory, runs a chunk itself, then blocks on `Atomics.wait` until the workers' chunks are done.
 * The workers' code is the kernels' own source text, so no bundler needs a worker entry point, and every chunk runs
 * the same function; the statistics are summed block by block in order, so the result does not depend on how many
 * workers ran or on the chunk size.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import {
  fitBlocks,
  fitBlocksSimd,
  requantizeBlocks,
  requantizeBlocksSimd,
  statisticsPerBlock,
  type FitKernel,
} from './block-kernels.ts'
import { fitKernelModule } from './fit-kernel-module.ts'
import { webAssembly } from '../../wasm/encoding.ts'

const blockSize = 32
/** Blocks a chunk holds: 2 MB of float32 values, 10–100 ms of work, so handing it over costs nothing. */
const defaultChunkBlocks = 16_384

/** The kernels by name: `fit` (fitted 4-bit zero points) or `requantize` (min/max grid with `levels` levels). */
export type BlockKernel = 'fit' | 'requantize'

/** Control word states, `control[0]`. */
const state = { idle: 0, posted: 1, started: 2, done: 3, failed: 4 } as const

/** How long a posted chunk may wait for its worker to pick it up before the exporting thread runs it itself. */
const startDeadlineMs = 10_000

/** One worker and the shared buffers of the chunk it runs: `chunkBlocks` blocks at a time. */
export interface BlockSlot {
  worker: Worker
  /** `[1]`: the state of the current chunk. */
  control: Int32Array
  values: Float32Array
  quants: Uint8Array
  scales: Float32Array
  zeros: Uint8Array
  statistics: Float64Array
  /** False once the worker failed or did not answer: its buffers are then never reused. */
  usable: boolean
}

/** A weight's blocks as a kernel wrote them, with its statistics summed over the blocks in order. */
export interface KernelResult {
  /** `[elements]` */
  quants: Uint8Array
  /** `[blocks]` */
  scales: Float32Array
  /** `[blocks]` */
  zeros: Uint8Array
  /** Largest |scale · (q − zero) − x| over the weight, as MatMulNBits computes it (float32). */
  maximumError: number
  /** Σ (scale · (q − zero) − x)² (kernel `fit` only, else 0). */
  squaredError: number
  /** Σ x² (kernel `fit` only, else 0): sqrt(squaredError / squaredValues) is the relative RMS difference. */
  squaredValues: number
}

/** How `runBlockKernel` spreads its work; the defaults suit an export, tests choose small chunks. */
export interface BlockRunOptions {
  /** Worker threads beside this one (default: one per further core, at most three; 0 runs on this thread). */
  workers?: number
  /** Blocks per chunk handed to a worker. */
  chunkBlocks?: number
}

// A shim for `__name`, which esbuild's keepNames (tsx) inserts for inner functions: the kernels have none, and
// a worker that met one anyway would fail, leaving every chunk to the exporting thread after the deadline.
// A worker compiles the block kernels' WebAssembly module from the bytes it is given, and fits and requantizes
// in JavaScript where it cannot.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads')
const __name = (target) => target
const fitBlocks = (${fitBlocks.toString()})
const fitBlocksSimd = (${fitBlocksSimd.toString()})
const requantizeBlocks = (${requantizeBlocks.toString()})
const requantizeBlocksSimd = (${requantizeBlocksSimd.toString()})
const { control, values, quants, scales, zeros, statistics, fitModule } = workerData
let fitKernel
try {
  fitKernel = new WebAssembly.Instance(new WebAssembly.Module(fitModule), {}).exports
} catch {}
parentPort.on('message', ({ kernel, count, levels }) => {
  Atomics.store(control, 0, ${state.started})
  try {
    if (kernel === 'fit' && fitKernel) fitBlocksSimd(values, quants, scales, zeros, statistics, count, fitKernel)
    else if (kernel === 'fit') fitBlocks(values, quants, scales, zeros, statistics, count)
    else if (fitKernel) requantizeBlocksSimd(values, quants, scales, zeros, statistics, count, levels, fitKernel)
    else requantizeBlocks(values, quants, scales, zeros, statistics, count, levels)
    Atomics.store(control, 0, ${state.done})
  } catch {
    Atomics.store(control, 0, ${state.failed})
  }
  Atomics.notify(control, 0)
})
`

function createSlot(chunkBlocks: number): BlockSlot {
  const values = chunkBlocks * blockSize
  const buffers = {
    control: new Int32Array(new SharedArrayBuffer(4)),
    values: new Float32Array(new SharedArrayBuffer(values * 4)),
    quants: new Uint8Array(new SharedArrayBuffer(values)),
    scales: new Float32Array(new SharedArrayBuffer(chunkBlocks * 4)),
    zeros: new Uint8Array(new SharedArrayBuffer(chunkBlocks)),
    statistics: new Float64Array(new SharedArrayBuffer(chunkBlocks * statisticsPerBlock * 8)),
  }
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: { ...buffers, fitModule: fitKernelModule() },
  })
  // Idle workers must not keep the process alive.
  worker.unref()
  const slot: BlockSlot = { worker, ...buffers, usable: true }
  worker.on('error', () => {
    slot.usable = false
  })
  return slot
}

/** Worker count when the caller does not choose: one per core beside the exporting thread, at most three. */
export function defaultBlockWorkers(): number {
  return Math.max(0, Math.min(availableParallelism() - 1, 3))
}

const pools = new Map<number, BlockSlot[]>()
/** Set when a worker failed: the process then works on its own thread rather than risk the deadline again. */
let workersFailed = false

/**
 * `count` usable slots for chunks of `chunkBlocks` blocks, created on first use and kept for the process; none
 * after a worker failed.
 */
export function blockSlots(count: number, chunkBlocks: number): BlockSlot[] {
  if (workersFailed) return []
  const pool = (pools.get(chunkBlocks) ?? []).filter((slot) => slot.usable)
  try {
    while (pool.length < count) pool.push(createSlot(chunkBlocks))
  } catch {
    // A runtime without worker threads (or out of them): use the slots there are, and none from now on.
    workersFailed = true
  }
  pools.set(chunkBlocks, pool)
  return pool.slice(0, count)
}

/** Copy `count` blocks of `values` from block `first` into the slot and start its worker on them. */
export function postChunk(
  slot: BlockSlot,
  kernel: BlockKernel,
  levels: number,
  values: Float32Array,
  first: number,
  count: number,
): void {
  slot.values.set(values.subarray(first * blockSize, (first + count) * blockSize))
  Atomics.store(slot.control, 0, state.posted)
  slot.worker.postMessage({ kernel, count, levels })
}

/**
 * Wait until the slot's chunk is done. Returns false, and marks the slot unusable, when its worker failed or did
 * not pick the chunk up within `deadlineMs`: the caller then runs that chunk itself.
 */
export function awaitChunk(slot: BlockSlot, deadlineMs = startDeadlineMs): boolean {
  const start = performance.now()
  for (;;) {
    const current = Atomics.load(slot.control, 0)
    if (current === state.done) {
      Atomics.store(slot.control, 0, state.idle)
      return true
    }
    if (current === state.failed || !slot.usable) break
    if (current === state.posted && performance.now() - start > deadlineMs) break
    Atomics.wait(slot.control, 0, current, 100)
  }
  slot.usable = false
  workersFailed = true
  void slot.worker.terminate()
  return false
}

/** Add a chunk's per-block statistics to the weight's totals, in block order. */
function addStatistics(result: KernelResult, statistics: Float64Array, count: number): void {
  for (let block = 0; block < count; block++) {
    const at = block * statisticsPerBlock
    result.squaredError += statistics[at] as number
    result.squaredValues += statistics[at + 1] as number
    result.maximumError = Math.max(result.maximumError, statistics[at + 2] as number)
  }
}

let localFitKernel: FitKernel | null | undefined

/** This thread's instance of the fit's WebAssembly module; null where the runtime cannot compile it. */
function fitKernelHere(): FitKernel | null {
  if (localFitKernel !== undefined) return localFitKernel
  try {
    const module = new webAssembly.Module(fitKernelModule())
    localFitKernel = new webAssembly.Instance(module, {}).exports as unknown as FitKernel
  } catch {
    localFitKernel = null
  }
  return localFitKernel
}

/**
 * Run `kernel` over `count` blocks of `values` from block `first` on this thread, straight into `into`'s arrays at
 * the same blocks; the blocks' statistics go to the start of `statistics`.
 */
export function runHere(
  kernel: BlockKernel,
  levels: number,
  values: Float32Array,
  into: Pick<KernelResult, 'quants' | 'scales' | 'zeros'>,
  statistics: Float64Array,
  first: number,
  count: number,
): void {
  const elements = [first * blockSize, (first + count) * blockSize] as const
  const arrays = [
    values.subarray(...elements),
    into.quants.subarray(...elements),
    into.scales.subarray(first, first + count),
    into.zeros.subarray(first, first + count),
    statistics,
    count,
  ] as const
  const blockKernel = fitKernelHere()
  if (kernel === 'fit' && blockKernel !== null) fitBlocksSimd(...arrays, blockKernel)
  else if (kernel === 'fit') fitBlocks(...arrays)
  else if (blockKernel !== null) requantizeBlocksSimd(...arrays, levels, blockKernel)
  else requantizeBlocks(...arrays, levels)
}

/**
 * Run `kernel` over every block of float values `[blocks · 32]` (`levels` for `requantize`: 15 or 255), in chunks
 * shared with worker threads.
 */
export function runBlockKernel(
  kernel: BlockKernel,
  values: Float32Array,
  levels: number,
  options: BlockRunOptions = {},
): KernelResult {
  const blocks = values.length / blockSize
  const chunkBlocks = options.chunkBlocks ?? defaultChunkBlocks
  const result: KernelResult = {
    quants: new Uint8Array(values.length),
    scales: new Float32Array(blocks),
    zeros: new Uint8Array(blocks),
    maximumError: 0,
    squaredError: 0,
    squaredValues: 0,
  }
  const wanted = Math.min(options.workers ?? defaultBlockWorkers(), Math.ceil(blocks / chunkBlocks) - 1)
  const slots = wanted > 0 ? blockSlots(wanted, chunkBlocks) : []
  const statistics = new Float64Array(chunkBlocks * statisticsPerBlock)
  // Each round: one chunk per worker, then the next one here; the chunks are taken back in block order.
  for (let next = 0; next < blocks;) {
    const posted: Array<{ slot: BlockSlot; first: number; count: number }> = []
    for (const slot of slots) {
      if (next >= blocks || !slot.usable) break
      const count = Math.min(chunkBlocks, blocks - next)
      postChunk(slot, kernel, levels, values, next, count)
      posted.push({ slot, first: next, count })
      next += count
    }
    const own = { first: next, count: Math.min(chunkBlocks, blocks - next) }
    next += own.count
    runHere(kernel, levels, values, result, statistics, own.first, own.count)
    const ownStatistics = statistics.slice(0, own.count * statisticsPerBlock)
    for (const { slot, first, count } of posted) {
      if (awaitChunk(slot)) {
        result.quants.set(slot.quants.subarray(0, count * blockSize), first * blockSize)
        result.scales.set(slot.scales.subarray(0, count), first)
        result.zeros.set(slot.zeros.subarray(0, count), first)
        addStatistics(result, slot.statistics, count)
      } else {
        runHere(kernel, levels, values, result, statistics, first, count)
        addStatistics(result, statistics, count)
      }
    }
    addStatistics(result, ownStatistics, own.count)
  }
  return result
}
