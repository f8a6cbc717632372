/**
 * ONNX Runtime sessions for decoder graphs: options tuned for a token-by-token loop, and provider fallback.
 */
import { availableParallelism } from 'node:os'
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
    intraOpNumThreads: intraOpThreads ?? availableParallelism(),
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
