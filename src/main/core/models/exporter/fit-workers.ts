/**
 * Worker threads that fit blocks of 4-bit zero points beside the exporting thread: the fit is most of a Q4_K → q4
 * import's time, and its blocks are independent. The export stays synchronous: the exporting thread hands each
 * worker a chunk of blocks in shared memory, fits a chunk itself, then blocks on `Atomics.wait` until the workers'
 * chunks are done. Every chunk runs the same function (fit-blocks.ts, whose source text is the workers' code, so no
 * bundler needs a worker entry point), so the result does not depend on how many workers ran.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { fitBlocks, statisticsPerBlock } from './fit-blocks.ts'

const blockSize = 32

/** Control word states, `control[0]`. */
const state = { idle: 0, posted: 1, started: 2, done: 3, failed: 4 } as const

/** How long a posted chunk may wait for its worker to pick it up before the exporting thread fits it itself. */
const startDeadlineMs = 10_000

/** One worker and the shared buffers of the chunk it fits: `chunkBlocks` blocks at a time. */
export interface FitSlot {
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

// A shim for `__name`, which esbuild's keepNames (tsx) would insert for inner functions: the kernel has none,
// but a worker that fails to compile would only show as a slower export.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads')
const __name = (target) => target
const fitBlocks = (${fitBlocks.toString()})
const { control, values, quants, scales, zeros, statistics } = workerData
parentPort.on('message', (count) => {
  Atomics.store(control, 0, ${state.started})
  try {
    fitBlocks(values, quants, scales, zeros, statistics, count)
    Atomics.store(control, 0, ${state.done})
  } catch {
    Atomics.store(control, 0, ${state.failed})
  }
  Atomics.notify(control, 0)
})
`

function createSlot(chunkBlocks: number): FitSlot {
  const values = chunkBlocks * blockSize
  const buffers = {
    control: new Int32Array(new SharedArrayBuffer(4)),
    values: new Float32Array(new SharedArrayBuffer(values * 4)),
    quants: new Uint8Array(new SharedArrayBuffer(values)),
    scales: new Float32Array(new SharedArrayBuffer(chunkBlocks * 4)),
    zeros: new Uint8Array(new SharedArrayBuffer(chunkBlocks)),
    statistics: new Float64Array(new SharedArrayBuffer(chunkBlocks * statisticsPerBlock * 8)),
  }
  const worker = new Worker(workerSource, { eval: true, workerData: buffers })
  // Idle workers must not keep the process alive.
  worker.unref()
  const slot: FitSlot = { worker, ...buffers, usable: true }
  worker.on('error', () => {
    slot.usable = false
  })
  return slot
}

/** Worker count when the caller does not choose: one per core beside the exporting thread, at most three. */
export function defaultFitWorkers(): number {
  return Math.max(0, Math.min(availableParallelism() - 1, 3))
}

const pools = new Map<number, FitSlot[]>()
/** Set when a worker failed: the process then fits on its own thread rather than risk the deadline again. */
let workersFailed = false

/**
 * `count` usable slots for chunks of `chunkBlocks` blocks, created on first use and kept for the process; none
 * after a worker failed.
 */
export function fitSlots(count: number, chunkBlocks: number): FitSlot[] {
  if (workersFailed) return []
  const pool = (pools.get(chunkBlocks) ?? []).filter((slot) => slot.usable)
  try {
    while (pool.length < count) pool.push(createSlot(chunkBlocks))
  } catch {
    // A runtime without worker threads (or out of them): fit with the slots there are, and none from now on.
    workersFailed = true
  }
  pools.set(chunkBlocks, pool)
  return pool.slice(0, count)
}

/** Copy `count` blocks of `values` starting at block `first` into the slot and start its worker on them. */
export function postChunk(slot: FitSlot, values: Float32Array, first: number, count: number): void {
  slot.values.set(values.subarray(first * blockSize, (first + count) * blockSize))
  Atomics.store(slot.control, 0, state.posted)
  slot.worker.postMessage(count)
}

/**
 * Wait until the slot's chunk is fitted. Returns false, and marks the slot unusable, when its worker failed or did
 * not pick the chunk up within the deadline: the caller then fits that chunk itself.
 */
export function awaitChunk(slot: FitSlot, deadlineMs = startDeadlineMs): boolean {
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
