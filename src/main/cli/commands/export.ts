import { exportControlVector } from '../../core/edits/control-vector.ts'
import { readEditFile } from '../../core/edits/edit-file.ts'
import { TillerError } from '../../core/errors.ts'
import type { Command } from '../index.ts'
import { parseCommandArgs } from './arguments.ts'

const usage = `Usage: tiller export --edit EDIT.safetensors --gguf OUT.gguf [--model-hint NAME]

Export an additive edit at resid_post (pca-diff, pca-center, mean-diff) as a llama.cpp control vector:
direction.k is added to the output of 0-based block k at every position (llama-cli --control-vector OUT.gguf).
Edits that llama.cpp cannot apply (other ops, sites or positions, or block 0) are refused with the reason.

Options:
  --edit FILE          the Tiller edit file
  --gguf FILE          the control-vector GGUF to write
  --model-hint NAME    controlvector.model_hint (default: the edit's model architecture)
  --json               print { out, layers, modelHint }`

function parse(args: string[]) {
  return parseCommandArgs('export', {
    args,
    options: {
      edit: { type: 'string' },
      gguf: { type: 'string' },
      'model-hint': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  }).values
}

/** `tiller export`: an edit file → a llama.cpp control-vector GGUF. */
export const exportCommand: Command = {
  summary: 'export an additive edit as a llama.cpp control vector (GGUF)',
  usage,
  async run(args) {
    const values = parse(args)
    if (values.edit === undefined || values.gguf === undefined) {
      throw new TillerError('invalid-argument', 'Give both --edit EDIT.safetensors and --gguf OUT.gguf.', {
        subject: values.edit === undefined ? '--edit' : '--gguf',
      })
    }
    const { edit } = await readEditFile(values.edit)
    const modelHint = values['model-hint'] ?? edit.model.architecture
    await exportControlVector(edit, values.gguf, { modelHint })
    const layers = [...new Set(edit.interventions.map((intervention) => intervention.layer))].sort(
      (a, b) => a - b,
    )
    if (values.json) {
      process.stdout.write(JSON.stringify({ out: values.gguf, layers, modelHint }) + '\n')
    } else {
      process.stdout.write(
        `wrote ${values.gguf}: direction.${layers.join(', direction.')} (model hint "${modelHint}")\n` +
          `use: llama-cli -m MODEL.gguf --control-vector ${values.gguf}\n`,
      )
    }
    return 0
  },
}
