import { readdir } from 'node:fs/promises'
import { resolve } from 'node:path'

import { TillerError } from '../../core/errors.ts'
import {
  defaultLinearCompute,
  exportModelFolder,
  type QuantizationReport,
} from '../../core/models/exporter/index.ts'
import { defaultExportDtype } from '../../core/models/importers/gguf/default-dtype.ts'
import { openGgufImport } from '../../core/models/importers/gguf/import-gguf.ts'
import type { Command } from '../index.ts'
import { parseCommandArgs } from './arguments.ts'
import { importProgressPrinter } from './import-progress.ts'
import { datasetFormats, datasetUsage, importDataset, type DatasetFormat } from './import-dataset.ts'

const usage = `Usage: tiller import gguf FILE --out DIR [--graph builder|optimum] [--dtype auto|float32|float16|q4|q8] [--compute int8|float32] [--offset-blocks 4bit|8bit] [--force]

Convert a local GGUF model (architecture llama incl. Llama 3.x and Mistral, qwen2, qwen3, phi3, gemma2 or gemma3;
F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL or IQ4_XS tensors; embedded
SentencePiece or byte-level BPE tokenizer) into an ONNX model folder that Tiller and Transformers.js load. By
default the folder keeps about the GGUF's size: 4/5-bit types become q4 (ONNX Runtime MatMulNBits, block 32),
Q8_0/Q6_K q8, F16/BF16 float16. Q4_0 (q4, q8), Q5_0 and Q8_0 (q8) blocks are written exactly; other types are
requantized. A q4 import of a mixed file (Q4_K_M: Q4_K with Q6_K) writes the tensors stored with more than 4 bits
(Q5_*, Q6_K, Q8_0, F16, BF16, F32) with 8 bits, keeping the file's mix. The import prints how many weights went to
each width and the largest difference to the dequantized weights. q4/q8 graphs multiply in int8 by default
(activations quantized per block of 32, about 3× faster on CPU), which needs integer zero points: blocks with offsets
(Q4_1, Q4_K, Q5_1, Q5_K) are requantized to 4 bits with a zero point fitted per block, and the import prints their
relative RMS difference to the dequantized weights; --offset-blocks 8bit keeps their quants at 8 bits instead, each
weight within 1/32 of its step, a folder about twice the file's size. --compute float32 multiplies the dequantized
weights in float32 instead, slower, keeps Q4_1/Q4_K at 4 bits with float zero points, and gives the float32
import's logits of the same weights. config.json records the choices (tiller.compute, tiller.offsetBlocks).
Weights are read, converted and written one tensor at a time (memory stays about the largest tensor), with a
progress line on standard error.

Options:
  --out DIR                  the model folder to write (refused if it exists, unless --force)
  --graph builder|optimum    ONNX graph family (default builder)
  --dtype auto|float32|float16|q4|q8
                             weight type of the graph (default auto: about the GGUF's size)
  --compute int8|float32     what q4/q8 linear layers multiply in (default int8: fast; float32: exact)
  --offset-blocks 4bit|8bit  q4 with int8 compute: blocks with offsets (Q4_1, Q4_K, ...) requantized to 4 bits with
                             fitted zero points (default: about the GGUF's size) or kept at 8 bits (twice it, closer)
  --force                    replace DIR if it already exists
  --json                     print the import summary as one JSON object

${datasetUsage}`

const graphFamilies = ['builder', 'optimum'] as const
const dtypes = ['auto', 'float32', 'float16', 'q4', 'q8'] as const
const computes = ['int8', 'float32'] as const
const offsetBlockWidths = ['4bit', '8bit'] as const

function invalidArgument(message: string, subject?: string): TillerError {
  return new TillerError('invalid-argument', `${message} Run \`tiller import --help\` for the options.`, {
    ...(subject === undefined ? {} : { subject }),
  })
}

function parse(args: string[]) {
  return parseCommandArgs('import', {
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      graph: { type: 'string', default: 'builder' },
      dtype: { type: 'string', default: 'auto' },
      compute: { type: 'string' },
      'offset-blocks': { type: 'string' },
      force: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      to: { type: 'string' },
      negatives: { type: 'string' },
      format: { type: 'string' },
    },
  })
}

function choice<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  const match = allowed.find((candidate) => candidate === value)
  if (match === undefined)
    throw invalidArgument(`--${flag} is "${value}"; use ${allowed.join(' or ')}.`, `--${flag}`)
  return match
}

/** How many linear weights went to each MatMulNBits width, and each width's largest difference. */
function precisionLine(quantization: QuantizationReport): string {
  const widths = (['4', '8'] as const)
    .filter((bits) => quantization.byBits[bits].tensors > 0)
    .map((bits) => {
      const { tensors, maximumError } = quantization.byBits[bits]
      return `${tensors} at ${bits} bits (largest difference ${maximumError.toPrecision(3)})`
    })
  return `Precision: ${widths.join(', ')}.\n`
}

/** What the import did to blocks with offsets at 4 bits with fitted zero points, when it did. */
function fittedLine(quantization: QuantizationReport): string {
  if (quantization.fittedTensors === 0) return ''
  return (
    `Blocks with offsets: ${quantization.fittedTensors} weights requantized to 4 bits with fitted zero points, ` +
    `relative RMS difference ${quantization.fittedRelativeRms.toPrecision(3)} to the dequantized weights ` +
    `(--offset-blocks 8bit keeps their quants at 8 bits).\n`
  )
}

/** `tiller import gguf FILE --out DIR`: GGUF -> checkpoint + tokenizer -> ONNX model folder, atomically. */
export const importCommand: Command = {
  usage,
  async run(args) {
    const { values, positionals } = parse(args)
    const [format, file, ...extra] = positionals
    const dataset = datasetFormats.find((name) => name === format)
    if (dataset !== undefined) {
      if (file === undefined || extra.length > 0) throw invalidArgument(`Give exactly one ${dataset} FILE.`)
      return importDataset(dataset as DatasetFormat, file, {
        ...values,
        to: values.to,
        negatives: values.negatives,
      })
    }
    if (format !== 'gguf') {
      throw invalidArgument(
        format === undefined
          ? 'Name the format to import: `tiller import gguf FILE --out DIR`.'
          : `Unknown format "${format}"; Tiller imports "gguf", ${datasetFormats.map((name) => `"${name}"`).join(', ')}.`,
      )
    }
    if (file === undefined || extra.length > 0) throw invalidArgument('Give exactly one GGUF FILE.')
    if (values.out === undefined || values.out === '')
      throw invalidArgument('--out DIR is required.', '--out')
    const family = choice('graph', values.graph, graphFamilies)
    const requested = choice('dtype', values.dtype, dtypes)
    const compute = values.compute === undefined ? undefined : choice('compute', values.compute, computes)
    const offsetBlocks =
      values['offset-blocks'] === undefined
        ? undefined
        : choice('offset-blocks', values['offset-blocks'], offsetBlockWidths)
    if (compute !== undefined && (requested === 'float32' || requested === 'float16')) {
      throw invalidArgument(
        `--compute applies to q4 and q8 graphs; a ${requested} graph computes in ${requested}. Drop --compute or pass --dtype q4 or q8.`,
        '--compute',
      )
    }
    const outDir = resolve(values.out)
    const existing = await readdir(outDir).catch(() => [])
    if (!values.force && existing.length > 0) {
      throw invalidArgument(
        `${outDir} already exists and is not empty; choose another --out or pass --force.`,
        '--out',
      )
    }
    // The GGUF's header, tokenizer and tensor directory are validated before anything is written; its weights are
    // then read, converted and appended one at a time. The exporter assembles the folder in a temporary sibling
    // and renames it into place (replacing an old one only once the new one is whole).
    const imported = await openGgufImport(resolve(file))
    const dtype = requested === 'auto' ? defaultExportDtype(imported.source.tensorTypes) : requested
    if (offsetBlocks !== undefined && (dtype !== 'q4' || (compute ?? defaultLinearCompute) !== 'int8')) {
      await imported.checkpoint.weights.close()
      throw invalidArgument(
        `--offset-blocks applies to q4 graphs with int8 compute; this import writes ${dtype}` +
          `${compute === undefined ? '' : ` with ${compute} compute`}. Drop --offset-blocks.`,
        '--offset-blocks',
      )
    }
    let quantization: QuantizationReport
    try {
      quantization = await exportModelFolder(imported.checkpoint, imported.tokenizer, outDir, {
        family,
        dtype,
        ...(compute === undefined ? {} : { compute }),
        ...(offsetBlocks === undefined ? {} : { offsetBlocks }),
        overwrite: values.force,
        onProgress: importProgressPrinter(process.stderr),
      })
    } finally {
      await imported.checkpoint.weights.close()
    }
    const { config } = imported.checkpoint
    const quantized = dtype === 'q4' || dtype === 'q8'
    const linearCompute = quantized ? (compute ?? defaultLinearCompute) : undefined
    const summary = {
      source: imported.source,
      outDir,
      graph: family,
      dtype,
      ...(linearCompute === undefined ? {} : { compute: linearCompute }),
      quantization,
      config,
    }
    if (values.json) {
      process.stdout.write(JSON.stringify(summary) + '\n')
    } else {
      const types = Object.entries(imported.source.tensorTypes)
        .map(([type, count]) => `${count} ${type}`)
        .join(', ')
      process.stdout.write(
        `Imported ${imported.source.fileName} (${config.architecture ?? 'llama'}, ${config.numLayers} layers, hidden ${config.hiddenSize}, ` +
          `vocabulary ${config.vocabSize}; tensors ${types}) into ${outDir} (${family} graph, ${dtype}` +
          `${linearCompute === undefined ? '' : `, ${linearCompute} compute`}).\n` +
          (imported.source.dequantized && (dtype === 'float32' || dtype === 'float16')
            ? `Dequantized the ${imported.source.dequantizedTypes.join(', ')} weights; the graph holds them as ${dtype}.\n`
            : '') +
          (quantized
            ? `Weight matrices as ${dtype} blocks: ${quantization.exactTensors} copied exactly from their ` +
              `blocks, ${quantization.offsetTensors} copied with float zero points, ` +
              `${quantization.requantizedTensors} requantized` +
              (quantization.fittedTensors > 0
                ? `, ${quantization.fittedTensors} requantized with fitted zero points`
                : '') +
              ` (largest difference ${quantization.maximumError.toPrecision(3)}).\n` +
              fittedLine(quantization) +
              precisionLine(quantization)
            : ''),
      )
    }
    return 0
  },
}
