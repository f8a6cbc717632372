import packageJson from '../../../../package.json' with { type: 'json' }
import { defaultModelFolder } from '../../core/models/default-model.ts'
import { benchmarkProviders, type ProviderBenchmark } from '../../core/runtime/provider-bench.ts'
import { probeProviders } from '../../core/runtime/providers.ts'
import { runtimeVersions } from '../../core/runtime/versions.ts'
import type { Command } from '../index.ts'
import { modelFolderFlag, parseCommandArgs, positiveIntegerFlag, providerFlag } from './arguments.ts'

const usage = `Usage: tiller doctor [--provider auto|cpu|cuda|dml] [--json] [--bench [--model DIR] [--tokens N]]

Report the versions Tiller runs on, which execution provider is active and why each other one was skipped, and
whether the embedded default model is present.

Options:
  --bench        also decode a few tokens on every available provider and print tokens/s per provider
  --model DIR    the model folder --bench runs (default: the embedded model)
  --tokens N     new tokens per --bench run (default 32)`

const benchPrompt = 'Once upon a time'
const benchRuns = 3

function defaultModelStatus(): { path: string | null; problem: string | null } {
  try {
    return { path: defaultModelFolder(), problem: null }
  } catch (error) {
    return { path: null, problem: error instanceof Error ? error.message : String(error) }
  }
}

function benchLines(bench: ProviderBenchmark[], newTokens: number): string[] {
  const first = JSON.stringify(bench[0]?.tokens)
  return [
    '',
    `Decode benchmark ("${benchPrompt}", ${newTokens} greedy tokens, median of ${benchRuns} runs):`,
    ...bench.map((entry) => {
      const ranOn =
        entry.ranOn === entry.provider ? '' : ` (ran on ${entry.ranOn}: ${entry.fallbackReason ?? ''})`
      const same = JSON.stringify(entry.tokens) === first ? '' : ' (tokens differ from the first provider)'
      return (
        `  ${entry.provider.padEnd(5)} ${entry.tokensPerSecond.toFixed(1).padStart(9)} tokens/s, prefill ` +
        `${entry.prefillMs.toFixed(1)} ms${ranOn}${same}`
      )
    }),
  ]
}

/** `tiller doctor`: versions, execution providers (active and skipped, with reasons) and the default model. */
export const doctorCommand: Command = {
  usage,
  async run(args) {
    const { values } = parseCommandArgs('doctor', {
      args,
      options: {
        provider: { type: 'string', default: 'auto' },
        json: { type: 'boolean', default: false },
        bench: { type: 'boolean', default: false },
        model: { type: 'string' },
        tokens: { type: 'string' },
      },
    })
    const choice = providerFlag(values.provider)
    const newTokens = values.tokens === undefined ? 32 : positiveIntegerFlag('tokens', values.tokens)
    const [versions, providers] = await Promise.all([runtimeVersions(), probeProviders(choice)])
    const model = defaultModelStatus()
    const bench = values.bench
      ? await benchmarkProviders(
          modelFolderFlag(values.model),
          providers.probes.filter((probe) => probe.available).map((probe) => probe.name),
          benchPrompt,
          { newTokens, runs: benchRuns },
        )
      : undefined
    const report = {
      tillerVersion: packageJson.version,
      onnxRuntimeVersion: versions.onnxRuntime,
      transformersVersion: versions.transformers,
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
      providerChoice: choice,
      providers,
      defaultModel: model,
      ...(bench === undefined ? {} : { bench }),
    }
    if (values.json) {
      process.stdout.write(JSON.stringify(report, null, 2) + '\n')
      return 0
    }
    const lines = [
      `Tiller ${report.tillerVersion} on Node ${report.node} (${report.platform})`,
      `ONNX Runtime ${report.onnxRuntimeVersion}, Transformers.js ${report.transformersVersion}`,
      '',
      `Execution providers (requested: ${choice}; active: ${providers.active}):`,
      ...providers.probes.map((probe) => {
        const mark = probe.name === providers.active ? '*' : probe.available ? '+' : '-'
        return `  ${mark} ${probe.name.padEnd(5)} ${probe.reason}`
      }),
      '  (* active, + available, - skipped)',
      '',
      model.path !== null ? `Default model: ${model.path}` : `Default model: missing. ${model.problem ?? ''}`,
      ...(bench === undefined ? [] : benchLines(bench, newTokens)),
    ]
    process.stdout.write(lines.join('\n') + '\n')
    return 0
  },
}
