import packageJson from '../../../../package.json' with { type: 'json' }
import { defaultModelFolder } from '../../core/models/default-model.ts'
import { probeProviders } from '../../core/runtime/providers.ts'
import { runtimeVersions } from '../../core/runtime/versions.ts'
import type { Command } from '../index.ts'
import { parseCommandArgs, providerFlag } from './arguments.ts'

const usage = `Usage: tiller doctor [--provider auto|cpu|cuda|dml] [--json]

Report the versions Tiller runs on, which execution provider is active and why each other one was skipped, and
whether the embedded default model is present.`

function defaultModelStatus(): { path: string | null; problem: string | null } {
  try {
    return { path: defaultModelFolder(), problem: null }
  } catch (error) {
    return { path: null, problem: error instanceof Error ? error.message : String(error) }
  }
}

/** `tiller doctor`: versions, execution providers (active and skipped, with reasons) and the default model. */
export const doctorCommand: Command = {
  usage,
  async run(args) {
    const { values } = parseCommandArgs('doctor', {
      args,
      options: { provider: { type: 'string', default: 'auto' }, json: { type: 'boolean', default: false } },
    })
    const choice = providerFlag(values.provider)
    const [versions, providers] = await Promise.all([runtimeVersions(), probeProviders(choice)])
    const model = defaultModelStatus()
    const report = {
      tillerVersion: packageJson.version,
      onnxRuntimeVersion: versions.onnxRuntime,
      transformersVersion: versions.transformers,
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
      providerChoice: choice,
      providers,
      defaultModel: model,
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
    ]
    process.stdout.write(lines.join('\n') + '\n')
    return 0
  },
}
