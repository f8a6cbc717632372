import { availableParallelism } from 'node:os'
import { statisticsPerBlock } from './block-kernels.ts'
import {
  addStatistics,
  buffersOf,
  createSlot,
  defaultChunkBlocks,
  postChunk,
  runBlockKernel,
  runHere,
  startDeadlineMs,
  state,
  type BlockKernel,
  type BlockSlot,
  type ChunkBuffers,
  type KernelResult,
} from './block-workers.ts'
import type { WeightTensor } from '../checkpoint.ts'
import { planLinearWeight, type MatMulNBitsWeight } from './quantize-blocks.ts'

/**
 * Block kernels run on worker threads while the exporting thread goes on: `runBlockKernelAsync` queues a weight's
 * chunks and resolves once the workers have run them all, so an export can read, dequantize and hash the next band
 * of rows meanwhile (weight-pass.ts) instead of leaving the worker idle through that serial work, as the synchronous
 * `runBlockKernel` does. One worker per core: the exporting thread's own work shares the cores with them. Chunks are
 * the same as the synchronous run's and their statistics are summed in block order, so the result is the same.
 */

const blockSize = 32
/**
 * Buffer sets per worker: a worker that ends a chunk starts the next one waiting in its message queue at once,
 * without waiting for this thread (busy reading the next band) to hand it one.
 */
const setsPerWorker = 2

/** One chunk of a weight waiting for a worker: its blocks, and what to do once they are written. */
interface Chunk {
  kernel: BlockKernel
  levels: number
  values: Float32Array
  first: number
  count: number
  /** Take the chunk's results from `buffers` (or run it here when undefined: its worker failed). */
  settle: (buffers: ChunkBuffers | undefined) => void
}

/** A worker's buffer set, with the chunk it holds and that chunk's start deadline. */
interface Lane {
  slot: BlockSlot
  set: number
  chunk?: Chunk
  deadline?: ReturnType<typeof setTimeout>
}

const waiting: Chunk[] = []
let lanes: Lane[] | undefined

/** The queue's lanes, created on first use; none where the runtime cannot start a worker. */
function queueLanes(): Lane[] {
  if (lanes !== undefined) return lanes
  lanes = []
  try {
    for (let index = 0; index < Math.min(availableParallelism(), 4); index++) {
      const slot = createSlot(defaultChunkBlocks, setsPerWorker)
      const own = Array.from({ length: setsPerWorker }, (_, set): Lane => ({ slot, set }))
      slot.worker.on('message', (set: number) => finished(own[set]))
      slot.worker.on('error', () => failed(slot))
      slot.worker.on('exit', () => failed(slot))
      // A 'message' listener refs the worker's port again: idle, it must not keep the process alive.
      slot.worker.unref()
      lanes.push(...own)
    }
  } catch {
    // Run on the workers there are; with none, runBlockKernelAsync runs synchronously.
  }
  return lanes
}

/** Let the process end while none of the slot's lanes holds a chunk. */
function release(slot: BlockSlot): void {
  if (!lanes?.some((lane) => lane.slot === slot && lane.chunk !== undefined)) slot.worker.unref()
}

function finished(lane: Lane | undefined): void {
  const chunk = lane?.chunk
  if (lane === undefined || chunk === undefined) return
  const buffers = buffersOf(lane.slot, lane.set)
  if (Atomics.load(buffers.control, 0) !== state.done) {
    failed(lane.slot)
    return
  }
  clearTimeout(lane.deadline)
  lane.chunk = undefined
  Atomics.store(buffers.control, 0, state.idle)
  release(lane.slot)
  chunk.settle(buffers)
  dispatch()
}

/** A worker that failed or never started a chunk: retire it and run its chunks on this thread. */
function failed(slot: BlockSlot): void {
  slot.usable = false
  const own = lanes?.filter((lane) => lane.slot === slot) ?? []
  lanes = lanes?.filter((lane) => lane.slot !== slot)
  void slot.worker.terminate()
  for (const lane of own) {
    clearTimeout(lane.deadline)
    const { chunk } = lane
    lane.chunk = undefined
    chunk?.settle(undefined)
  }
  dispatch()
}

function dispatch(): void {
  if (lanes !== undefined && lanes.length === 0) {
    // Every worker failed: what is left runs here.
    for (const chunk of waiting.splice(0)) chunk.settle(undefined)
    return
  }
  for (;;) {
    // Spread chunks over the workers before queueing a second one behind another.
    const busy = (slot: BlockSlot): number =>
      lanes?.filter((lane) => lane.slot === slot && lane.chunk !== undefined).length ?? 0
    const lane = lanes
      ?.filter((candidate) => candidate.chunk === undefined)
      .sort((left, right) => busy(left.slot) - busy(right.slot))[0]
    if (lane === undefined) return
    const chunk = waiting.shift()
    if (chunk === undefined) return
    lane.chunk = chunk
    // A chunk in flight keeps the process alive until its worker answers.
    lane.slot.worker.ref()
    postChunk(lane.slot, chunk.kernel, chunk.levels, chunk.values, chunk.first, chunk.count, lane.set)
    const control = buffersOf(lane.slot, lane.set).control
    lane.deadline = setTimeout(() => {
      if (lane.chunk === chunk && Atomics.load(control, 0) === state.posted) failed(lane.slot)
    }, startDeadlineMs)
    lane.deadline.unref()
  }
}

/** `runBlockKernel` on the queue's worker threads, leaving this thread free until the result is there. */
export function runBlockKernelAsync(
  kernel: BlockKernel,
  values: Float32Array,
  levels: number,
): Promise<KernelResult> {
  if (queueLanes().length === 0)
    return Promise.resolve(runBlockKernel(kernel, values, levels, { workers: 0 }))
  const blocks = values.length / blockSize
  const result: KernelResult = {
    quants: new Uint8Array(values.length),
    scales: new Float32Array(blocks),
    zeros: new Uint8Array(blocks),
    maximumError: 0,
    squaredError: 0,
    squaredValues: 0,
  }
  const statistics = new Float64Array(blocks * statisticsPerBlock)
  return new Promise((resolve, reject) => {
    let left = Math.ceil(blocks / defaultChunkBlocks)
    if (left === 0) resolve(result)
    for (let first = 0; first < blocks; first += defaultChunkBlocks) {
      const count = Math.min(defaultChunkBlocks, blocks - first)
      const settle = (buffers: ChunkBuffers | undefined): void => {
        try {
          const chunkStatistics = statistics.subarray(first * statisticsPerBlock)
          if (buffers === undefined) runHere(kernel, levels, values, result, chunkStatistics, first, count)
          else {
            result.quants.set(buffers.quants.subarray(0, count * blockSize), first * blockSize)
            result.scales.set(buffers.scales.subarray(0, count), first)
            result.zeros.set(buffers.zeros.subarray(0, count), first)
            chunkStatistics.set(buffers.statistics.subarray(0, count * statisticsPerBlock))
          }
          left--
          if (left > 0) return
          addStatistics(result, statistics, blocks)
          resolve(result)
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)))
        }
      }
      waiting.push({ kernel, levels, values, first, count, settle })
    }
    dispatch()
  })
}

/** `quantizeLinearWeight` with its block kernel run on the queue's worker threads. */
export async function quantizeLinearWeightAsync(
  tensor: WeightTensor,
  bits: 4 | 8,
  floatZeroPoints: boolean,
  sourceOffsets: boolean,
): Promise<MatMulNBitsWeight> {
  const plan = planLinearWeight(tensor, bits, floatZeroPoints, sourceOffsets)
  if ('weight' in plan) return plan.weight
  return plan.complete(await runBlockKernelAsync(plan.kernel, plan.values, plan.levels))
}
