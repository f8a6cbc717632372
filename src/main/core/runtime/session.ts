/**
 * ONNX Runtime sessions for decoder graphs: options tuned for a token-by-token loop, and provider fallback.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { basename, dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'
import type { ExecutionProviderChoice, ExecutionProviderName } from '../../../shared/engine-status.ts'
import { TillerError } from '../errors.ts'
import { probeProviders } from './providers.ts'

/** A created session and the provider it runs on. */
export interface ProviderSession {
  session: ort.InferenceSession
  provider: ExecutionProviderName
  /** Why the session does not run on the provider that was asked for, when it fell back. */
  fallbackReason: string | undefined
}

let intraOpThreads: number | undefined

/**
 * The intra-op thread count of every session created from now on in this process (`--threads`); undefined
 * restores the default, one per core. Throws a TillerError for anything but a positive integer.
 */
export function setIntraOpThreads(threads: number | undefined): void {
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new TillerError(
      'invalid-argument',
      `threads is ${threads}; give a whole number of threads, 1 or more.`,
      { subject: 'threads' },
    )
  }
  intraOpThreads = threads
}

/** How a session will be used, where that changes its options. */
export interface SessionUse {
  /**
   * Pack the weights of products for the CPU kernels once at load (default true). Decoding needs it (a one-row
   * product would otherwise pack its weights every step); sessions that run a few large batches do not: the
   * kernels pack a weight once per product, a small part of a product over hundreds of rows, while packing at load
   * was most of a small model's session creation (12 of 20 ms for the organism's hooks-only graph).
   */
  prepackWeights?: boolean
  /** Intra-op threads of this session, over `setIntraOpThreads` and the default. */
  intraOpThreads?: number
}

/** Session options for one provider. */
export function sessionOptions(
  provider: ExecutionProviderName,
  use: SessionUse = {},
): ort.InferenceSession.SessionOptions {
  const prepacking = use.prepackWeights === false ? { disable_prepacking: '1' } : {}
  return {
    // The CPU provider stays listed so nodes another provider lacks a kernel for still run.
    executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: use.intraOpThreads ?? intraOpThreads ?? availableParallelism(),
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    // Shapes grow by one position every decode step, so memory patterns planned for one shape are rarely reused
    // (and ORT keeps one per shape); DirectML requires them off.
    enableMemPattern: false,
    logSeverityLevel: 3,
    // Idle pool threads sleep instead of spinning: a decode step is a burst of small kernels, and spinning threads
    // fight the JS thread and other processes for cores (measured 2-4x slower per step on a busy 2-core machine).
    extra: {
      session: { ...prepacking, intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } },
    },
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]?.trim() || error.message : String(error)
}

/**
 * Create a session for the graph at `graphPath` on the provider `choice` resolves to. If that provider fails to
 * create the session, fall back to CPU and say why in `fallbackReason`.
 */
export async function createProviderSession(
  graphPath: string,
  choice: ExecutionProviderChoice,
  use: SessionUse = {},
): Promise<ProviderSession> {
  const report = await probeProviders(choice)
  let fallbackReason: string | undefined
  if (choice !== 'auto' && report.active !== choice) {
    fallbackReason = report.probes.find((probe) => probe.name === choice)?.reason
  }
  if (report.active !== 'cpu') {
    try {
      const session = await ort.InferenceSession.create(graphPath, sessionOptions(report.active, use))
      return { session, provider: report.active, fallbackReason }
    } catch (error) {
      fallbackReason = `${report.active} could not load ${graphPath} (${describe(error)}); running on CPU instead.`
    }
  }
  try {
    const session = await ort.InferenceSession.create(graphPath, sessionOptions('cpu', use))
    return { session, provider: 'cpu', fallbackReason }
  } catch (error) {
    throw new TillerError(
      'file-corrupt',
      `ONNX Runtime could not load the graph ${graphPath}: ${describe(error)}. Re-export or re-import the model folder.`,
      { subject: graphPath, cause: error },
    )
  }
}

/**
 * Weights up to which a decode step runs faster on one intra-op thread: on the organism (17 MB) one thread decoded
 * 1.5–1.7× faster than two in alternating runs (waking a sleeping pool thread for each small parallel kernel costs
 * more than the kernel), stories260K the same, a random 30M model (142 MB) 1.1× slower; prefill of the organism is
 * 1.7× faster on two (docs/performance.md).
 */
export const singleThreadDecodeBytes = 32 * 1024 * 1024

/** Files beside a graph that are never its weights: other graphs, and configuration and tokenizer files. */
const notWeights = /\.(onnx|json|txt|model|jinja|md)$/i

/**
 * Bytes of the graph file and every other file beside it that could hold its external data (any name: exporters
 * name them `.onnx_data`, `.onnx.data`, `.bin`, `.pb`, ...). Every variant's data counts: an overestimate only
 * forgoes the small-model path, an underestimate would keep a second copy of a large model's weights.
 */
function graphWeightBytes(graphPath: string): number {
  const folder = dirname(graphPath)
  let total = statSync(graphPath).size
  for (const name of readdirSync(folder)) {
    if (name === basename(graphPath) || notWeights.test(name)) continue
    // statSync follows links: the Hugging Face cache links its snapshots' files to blobs.
    const stats = statSync(join(folder, name), { throwIfNoEntry: false })
    if (stats?.isFile() === true) total += stats.size
  }
  return total
}

/** Whether the weights of `graphPath` (and the data files beside it) are at most `singleThreadDecodeBytes`. */
export function isSmallGraph(graphPath: string): boolean {
  return existsSync(graphPath) && graphWeightBytes(graphPath) <= singleThreadDecodeBytes
}

/**
 * A second session of `graphPath` on one intra-op thread for decode steps, when it pays: the CPU provider, more
 * than one core, no thread count set with `setIntraOpThreads`, and weights of at most `singleThreadDecodeBytes`.
 * Prefill and batched scoring keep the session on every core.
 */
export async function singleThreadDecodeSession(
  graphPath: string,
  provider: ExecutionProviderName,
): Promise<ort.InferenceSession | undefined> {
  if (provider !== 'cpu' || intraOpThreads !== undefined || availableParallelism() < 2) return undefined
  if (!isSmallGraph(graphPath)) return undefined
  return ort.InferenceSession.create(graphPath, sessionOptions('cpu', { intraOpThreads: 1 }))
}
