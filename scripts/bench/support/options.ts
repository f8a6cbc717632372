/** Command-line options every benchmark takes. */
import type { ParseArgsOptionsConfig } from 'node:util'
import type { ExecutionProviderName } from '../../../src/shared/engine-status.ts'
import { setIntraOpThreads } from '../../../src/main/core/runtime/session.ts'

/**
 * --model DIR (benchmark this folder only), --tokens N new tokens per timed run (default 64), --repeats R
 * (default `repeats`), --skip-large (leave out the large random model), --provider cpu|cuda|dml (default cpu),
 * --threads T (ONNX Runtime intra-op threads; default one per core).
 */
export function benchmarkOptions(repeats: number) {
  return {
    model: { type: 'string' },
    tokens: { type: 'string', default: '64' },
    repeats: { type: 'string', default: String(repeats) },
    'skip-large': { type: 'boolean', default: false },
    provider: { type: 'string', default: 'cpu' },
    threads: { type: 'string' },
  } as const satisfies ParseArgsOptionsConfig
}

/** Applies --threads to every session created from now on and returns the --provider to benchmark. */
export function applyRuntimeOptions(values: { provider: string; threads?: string }): ExecutionProviderName {
  const provider = values.provider
  if (provider !== 'cpu' && provider !== 'cuda' && provider !== 'dml') {
    throw new Error(`--provider ${provider}: use cpu, cuda or dml`)
  }
  setIntraOpThreads(values.threads === undefined ? undefined : Number(values.threads))
  return provider
}
