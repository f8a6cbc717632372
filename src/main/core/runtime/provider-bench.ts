/**
 * A short greedy decode on each execution provider, for `tiller doctor --bench`: shows on the user's own machine
 * which provider is fastest and that each one really generates. Absolute rates depend on the machine and its load.
 */
import type { ExecutionProviderName } from '../../../shared/engine-status.ts'
import { generate } from './generate.ts'
import { loadModel } from './model.ts'

/** One provider's outcome. */
export interface ProviderBenchmark {
  /** The provider asked for. */
  provider: ExecutionProviderName
  /** The provider the session ran on (differs when creating the session fell back to CPU). */
  ranOn: ExecutionProviderName
  /** Why it fell back, when it did. */
  fallbackReason: string | undefined
  prefillMs: number
  /** Decode rate: tokens after the first per second, median of the runs. */
  tokensPerSecond: number
  /** Greedy tokens of the last run, to compare providers with each other. */
  tokens: number[]
}

function median(values: number[]): number {
  const sorted = [...values].sort((first, second) => first - second)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/**
 * Decode `newTokens` greedy tokens after `promptText` (encoded as the model's tokenizer does) on each of `providers` with the model folder `folder`: one
 * warm-up run, then `runs` timed runs (no end-of-sequence stop, so every run decodes exactly `newTokens`).
 */
export async function benchmarkProviders(
  folder: string,
  providers: readonly ExecutionProviderName[],
  promptText: string,
  options: { newTokens: number; runs: number },
): Promise<ProviderBenchmark[]> {
  const results: ProviderBenchmark[] = []
  for (const provider of providers) {
    const model = await loadModel(folder, { provider })
    try {
      const prompt = model.tokenizer.encode(promptText)
      const decode = async () => {
        const [result] = await generate(model, {
          rows: [prompt],
          options: { maxTokens: options.newTokens, temperature: 0, eosTokenIds: [] },
        })
        if (result === undefined) throw new Error('generation returned no row')
        return result
      }
      await decode()
      const rates: number[] = []
      const prefills: number[] = []
      let last = await decode()
      rates.push(last.timing.tokensPerSecond)
      prefills.push(last.timing.prefillMs)
      for (let run = 1; run < options.runs; run++) {
        last = await decode()
        rates.push(last.timing.tokensPerSecond)
        prefills.push(last.timing.prefillMs)
      }
      results.push({
        provider,
        ranOn: model.provider,
        fallbackReason: model.providerFallbackReason,
        prefillMs: median(prefills),
        tokensPerSecond: median(rates),
        tokens: last.generated,
      })
    } finally {
      await model.dispose()
    }
  }
  return results
}
