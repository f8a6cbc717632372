import { parseArgs } from 'node:util'
import packageJson from '../../../../package.json' with { type: 'json' }
import { TillerError } from '../../core/errors.ts'
import { defaultModelFolder } from '../../core/models/default-model.ts'
import { parseProviderChoice, probeProviders } from '../../core/runtime/providers.ts'
import { runtimeVersions } from '../../core/runtime/versions.ts'
import type { Command } from '../index.ts'

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
  summary: 'show versions, the active execution provider and why others were skipped',
  usage,
  async run(args) {
    let values: { provider: string; json: boolean }
    try {
      values = parseArgs({
        args,
        options: { provider: { type: 'string', default: 'auto' }, json: { type: 'boolean', default: false } },
      }).values
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      throw new TillerError('invalid-argument', `${reason}. Run \`tiller doctor --help\` for the options.`)
    }
    const choice = parseProviderChoice(values.provider)
    if (choice === undefined) {
      throw new TillerError(
        'invalid-argument',
        `--provider is "${values.provider}"; use auto, cpu, cuda or dml.`,
        {
          subject: '--provider',
        },
      )
    }
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
