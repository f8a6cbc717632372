import { exportControlVector } from '../../core/edits/control-vector.ts'
import { readEditFile } from '../../core/edits/edit-file.ts'
import { fingerprintModel } from '../../core/edits/fingerprint.ts'
import { exportSteeredModel } from '../../core/edits/steered-export.ts'
import { TillerError } from '../../core/errors.ts'
import type { Command } from '../index.ts'
import { modelFolderFlag, numberFlag, parseCommandArgs } from './arguments.ts'

const usage = `Usage: tiller export --edit EDIT.safetensors --gguf OUT.gguf [--model-hint NAME]
       tiller export --edit EDIT.safetensors --onnx DIR [--model DIR] [--strength S] [--force]

--gguf: export an additive edit at resid_post (pca-diff, pca-center, mean-diff) as a llama.cpp control vector:
direction.k is added to the output of 0-based block k at every position (llama-cli --control-vector OUT.gguf).
Edits that llama.cpp cannot apply (other ops, sites or positions, or block 0) are refused with the reason.

--onnx: write a standalone model folder with the edit compiled into the graph (any op: SEA, HPR, SADI, ITI, …),
strength baked in, taking the model's own inputs, so Transformers.js and ONNX Runtime run it unchanged. Position
policies become masks computed from input_ids and attention_mask (prompt = the first call); edits that apply
from the assistant turn's start (fromAssistantStart) are refused. DIR/tiller-edit.json records the details.

Options:
  --edit FILE          the Tiller edit file
  --gguf FILE          the control-vector GGUF to write
  --model-hint NAME    controlvector.model_hint (default: the edit's model architecture)
  --onnx DIR           the model folder to write
  --model DIR          the model the edit was fitted on (default: the embedded model)
  --strength S         the strength baked into the graph (default: the edit's default strength)
  --force              replace DIR when it exists and is not empty
  --json               print { out, layers, modelHint } (--gguf) or { out, graph, dataFiles, strength } (--onnx)`

/** `--strength -1` would read "-1" as a flag; join a value that starts with a dash to its option. */
function joinNegativeStrength(args: string[]): string[] {
  const joined: string[] = []
  for (let index = 0; index < args.length; index++) {
    const value = args[index + 1]
    if (args[index] === '--strength' && value !== undefined && /^-\d|^-\./.test(value)) {
      joined.push(`--strength=${value}`)
      index++
    } else joined.push(args[index] ?? '')
  }
  return joined
}

function parse(args: string[]) {
  return parseCommandArgs('export', {
    args: joinNegativeStrength(args),
    options: {
      edit: { type: 'string' },
      gguf: { type: 'string' },
      'model-hint': { type: 'string' },
      onnx: { type: 'string' },
      model: { type: 'string' },
      strength: { type: 'string' },
      force: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  }).values
}

type ExportValues = ReturnType<typeof parse>

async function exportGguf(editPath: string, out: string, values: ExportValues): Promise<void> {
  for (const flag of ['model', 'strength', 'force'] as const) {
    if (values[flag] !== undefined && values[flag] !== false) {
      throw new TillerError(
        'invalid-argument',
        `--${flag} applies to --onnx only; a control vector has no ${flag}.`,
        {
          subject: `--${flag}`,
        },
      )
    }
  }
  const { edit } = await readEditFile(editPath)
  const modelHint = values['model-hint'] ?? edit.model.architecture
  await exportControlVector(edit, out, { modelHint })
  const layers = [...new Set(edit.interventions.map((intervention) => intervention.layer))].sort(
    (a, b) => a - b,
  )
  if (values.json) {
    process.stdout.write(JSON.stringify({ out, layers, modelHint }) + '\n')
  } else {
    process.stdout.write(
      `wrote ${out}: direction.${layers.join(', direction.')} (model hint "${modelHint}")\n` +
        `use: llama-cli -m MODEL.gguf --control-vector ${out}\n`,
    )
  }
}

async function exportOnnx(editPath: string, out: string, values: ExportValues): Promise<void> {
  if (values['model-hint'] !== undefined) {
    throw new TillerError('invalid-argument', '--model-hint applies to --gguf only.', {
      subject: '--model-hint',
    })
  }
  const strength = values.strength === undefined ? undefined : numberFlag('strength', values.strength)
  const folder = modelFolderFlag(values.model)
  const editFile = await readEditFile(editPath, await fingerprintModel(folder))
  const result = await exportSteeredModel(folder, editFile, out, { strength, force: values.force })
  if (values.json) {
    const { graphFile, dataFiles } = result
    process.stdout.write(
      JSON.stringify({ out, graph: graphFile, dataFiles, strength: result.strength }) + '\n',
    )
  } else {
    const policies = [...new Set(result.policies.map((policy) => policy.kind))].join(', ')
    process.stdout.write(
      `wrote ${out}: ${result.graphFile} (+ ${result.dataFiles.join(', ') || 'no external data'}), edit ` +
        `${editFile.edit.id} (${editFile.edit.method}, positions ${policies}) at strength ${result.strength}\n` +
        `use: AutoModelForCausalLM.from_pretrained('${out}') in Transformers.js, or an ONNX Runtime session on ` +
        `${out}/${result.graphFile}\n`,
    )
  }
}

/** `tiller export`: an edit file → a llama.cpp control-vector GGUF, or a steered ONNX model folder. */
export const exportCommand: Command = {
  usage,
  async run(args) {
    const values = parse(args)
    if (values.edit === undefined) {
      throw new TillerError(
        'invalid-argument',
        'Give --edit EDIT.safetensors and one of --gguf OUT.gguf or --onnx DIR.',
        {
          subject: '--edit',
        },
      )
    }
    if ((values.gguf === undefined) === (values.onnx === undefined)) {
      throw new TillerError(
        'invalid-argument',
        'Give exactly one of --gguf OUT.gguf (a llama.cpp control vector) or --onnx DIR (a steered model folder).',
        { subject: values.gguf === undefined ? '--gguf' : '--onnx' },
      )
    }
    if (values.gguf !== undefined) await exportGguf(values.edit, values.gguf, values)
    else if (values.onnx !== undefined) await exportOnnx(values.edit, values.onnx, values)
    return 0
  },
}
