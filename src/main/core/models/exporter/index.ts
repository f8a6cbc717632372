import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { TillerError } from '../../errors.ts'
import { GraphBuilder } from '../../onnx/builder.ts'
import { ExternalDataWriter, saveModel } from '../../onnx/external-data.ts'
import { recoverFolder, replaceFolderAtomic } from '../../workspace/folder-swap.ts'
import {
  expectedWeightShapes,
  type LlamaCheckpoint,
  type LlamaConfig,
  type TokenizerFiles,
} from '../checkpoint.ts'
import { streamedCheckpointOf, type StreamedCheckpoint } from '../weight-source.ts'
import { modelFiles, type GraphFamily } from '../graph-contract.ts'
import { buildAttentionBias, buildPaddingBias } from './attention-bias.ts'
import { buildBuilderFamily, type BuilderAttention } from './builder-graph.ts'
import { Constants } from './constants.ts'
import type { DecoderContext } from './context.ts'
import { declareDecoderInputs, declareDecoderOutputs, type DecoderInputs } from './decoder-io.ts'
import { configJson, generationConfigJson, graphFilePath, type ExportRecord } from './folder-files.ts'
import { buildOptimumFamily } from './optimum-graph.ts'
import { validateCheckpoint, validateLoadedWeight } from './validate-weights.ts'
import { writeWeights, type ExportProgress } from './weight-pass.ts'
import {
  floatTypeOf,
  quantBitsOf,
  WeightStore,
  defaultLinearCompute,
  defaultOffsetBlocks,
  type ExportDType,
  type FloatType,
  type LinearCompute,
  type OffsetBlocks,
  type QuantizationReport,
} from './weights.ts'

/**
 * Export a Llama checkpoint as a Transformers.js model folder:
 *   config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
 *   onnx/model.onnx + onnx/model.onnx_data        (float32)
 *   onnx/model_fp16.onnx + onnx/model_fp16.onnx_data (float16)
 *   onnx/model_q4.onnx / onnx/model_quantized.onnx (+ _data) (q4 / q8: MatMulNBits linear weights, float32 else)
 * in either graph family, meeting the graph contract (graph-contract.ts). config.json records the checkpoint's
 * logical weights hash (weights-hash.ts), the model's identity in fingerprints. The folder is assembled in a
 * temporary sibling and renamed into place (replaceFolderAtomic), so a failure never leaves a half-written folder.
 * Weights are read one at a time from a streamed checkpoint (weight-source.ts, weight-pass.ts) and appended to the
 * external data file as they come, so an import holds about one weight in memory.
 */

/** How to export: graph family, dtype, attention variant (builder family), overwrite. */
export interface ExportOptions {
  family: GraphFamily
  /** Weights, activations and KV cache element type, or q4/q8 MatMulNBits linear weights. Default float32. */
  dtype?: ExportDType
  /**
   * q4/q8 only: what MatMulNBits multiplies in (weights.ts LinearCompute). Default int8, the fast one; float32
   * keeps the float32 export's logits of the same quantized weights.
   */
  compute?: LinearCompute
  /**
   * q4 with int8 compute only: how blocks with offsets (Q4_1, Q4_K, …) are written (weights.ts OffsetBlocks).
   * Default '4bit': requantized with fitted zero points, about the GGUF's size; '8bit' keeps their quants.
   */
  offsetBlocks?: OffsetBlocks
  /**
   * Builder family only. 'auto' picks 'onnx': the standard ONNX Attention op (opset 23) meets the whole contract
   * (any head size, left-padded batches, multi-token steps over a cache) in one node per layer, also with shared kv
   * heads. 'mha' (com.microsoft MultiHeadAttention) meets it too with more nodes; GroupQueryAttention refuses
   * batch > 1 with a cache and more than one new token on CPU (builder-graph.ts).
   */
  attention?: 'auto' | 'gqa' | 'mha' | 'onnx'
  /** Replace a non-empty `outDir` (default false: refuse). */
  overwrite?: boolean
  /** Called after each source weight is written to the data file. */
  onProgress?: (progress: ExportProgress) => void
  /** Cancels the export between weights (TillerError 'cancelled'); nothing is left behind. */
  signal?: AbortSignal
  /** About how many values of a matrix the export reads at a time (weight-pass.ts); tests pass small ones. */
  bandElements?: number
}

function chooseAttention(options: ExportOptions): ExportRecord['attention'] {
  if (options.family === 'optimum') {
    if (options.attention === 'gqa' || options.attention === 'mha' || options.attention === 'onnx') {
      throw new TillerError(
        'invalid-argument',
        `attention '${options.attention}' applies to the builder family; the optimum family uses primitive ops.`,
        { subject: 'attention' },
      )
    }
    return 'primitive'
  }
  const requested = options.attention ?? 'auto'
  return requested === 'auto' ? 'onnx' : requested
}

function checkOutDir(outDir: string, overwrite: boolean): void {
  if (!existsSync(outDir)) return
  if (readdirSync(outDir).length > 0 && !overwrite) {
    throw new TillerError(
      'invalid-argument',
      `${outDir} already exists and is not empty; choose another folder or pass overwrite.`,
      { subject: outDir },
    )
  }
}

/**
 * The attention biases of the config: one shared by every layer (windowed when every layer slides), or a global
 * and a sliding one when a slidingWindowPattern mixes them (Gemma). Builder graphs on the ONNX Attention op without
 * sliding windows take the padding part only and let the op add the causal part (`is_causal`): 6 nodes a step
 * instead of 14.
 */
function attentionBiases(
  graph: GraphBuilder,
  constants: Constants,
  inputs: DecoderInputs,
  floatType: FloatType,
  config: LlamaConfig,
  record: ExportRecord,
): Pick<DecoderContext, 'attentionBias' | 'localAttentionBias' | 'causalInAttention'> {
  const { slidingWindow, slidingWindowPattern } = config
  if (record.graphFamily === 'builder' && record.attention === 'onnx' && slidingWindow === undefined) {
    return { attentionBias: buildPaddingBias(graph, constants, inputs, floatType), causalInAttention: true }
  }
  if (slidingWindow === undefined || slidingWindowPattern === undefined) {
    return { attentionBias: buildAttentionBias(graph, constants, inputs, floatType, slidingWindow) }
  }
  return {
    attentionBias: buildAttentionBias(graph, constants, inputs, floatType),
    localAttentionBias: buildAttentionBias(graph, constants, inputs, floatType, slidingWindow),
  }
}

/**
 * Build the decoder graph, then stream its weights into `onnx/<graph>_data` (weight-pass.ts) and write both files.
 * Returns the quantization report and the logical weights hash.
 */
async function writeGraph(
  checkpoint: StreamedCheckpoint,
  onnxDir: string,
  record: ExportRecord,
  options: ExportOptions,
): Promise<{ report: QuantizationReport; weightsHash: string }> {
  const graphName = basename(graphFilePath(record.dtype))
  // MatMulNBits (quantized exports) and the builder family's fused ops are com.microsoft contrib ops; the ONNX
  // Attention op needs opset 23.
  const opsets: Record<string, number> =
    record.graphFamily === 'builder' || quantBitsOf(record.dtype) !== undefined
      ? { '': record.attention === 'onnx' ? 23 : 17, 'com.microsoft': 1 }
      : { '': 17 }
  const floatType = floatTypeOf(record.dtype)
  const graph = new GraphBuilder({
    name: record.graphFamily === 'builder' ? 'tiller_builder_decoder' : 'tiller_optimum_decoder',
    opsets,
    tensorName: record.graphFamily === 'optimum' ? (node, index) => `${node}_output_${index}` : undefined,
  })
  const data = new ExternalDataWriter(onnxDir, `${graphName}_data`)
  try {
    const { config } = checkpoint
    const inputs = declareDecoderInputs(graph, config, floatType)
    declareDecoderOutputs(graph, config, floatType)
    const constants = new Constants(graph, floatType)
    const { entries } = checkpoint.weights
    const { dtype, compute, offsetBlocks } = record
    const weights = new WeightStore(graph, entries, data, dtype, compute, offsetBlocks)
    const context: DecoderContext = {
      graph,
      config,
      weights,
      constants,
      inputs,
      floatType,
      ...attentionBiases(graph, constants, inputs, floatType, config, record),
    }
    if (record.graphFamily === 'builder') buildBuilderFamily(context, record.attention as BuilderAttention)
    else buildOptimumFamily(context)
    const weightsHash = await writeWeights(checkpoint, weights, record.dtype, record.compute, {
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.bandElements === undefined ? {} : { bandElements: options.bandElements }),
      writtenBytes: () => data.writtenBytes,
      ...(record.offsetBlocks === undefined ? {} : { offsetBlocks: record.offsetBlocks }),
    })
    data.commit()
    await saveModel(graph.toModel({ producerName: 'tiller', producerVersion: '1' }), join(onnxDir, graphName))
    return { report: { ...weights.quantization }, weightsHash }
  } catch (error) {
    data.abort()
    throw error
  }
}

/** An in-memory checkpoint's data checked whole before anything is written, as its weights are all at hand. */
function validateInMemory(checkpoint: LlamaCheckpoint): void {
  for (const [name, shape] of expectedWeightShapes(checkpoint.config)) {
    const tensor = checkpoint.weights.get(name)
    if (tensor !== undefined) validateLoadedWeight(name, shape, tensor)
  }
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n')
}

/**
 * Write `checkpoint` and `tokenizer` as a model folder at `outDir`. Throws TillerError('shape-mismatch') naming
 * the tensor when a weight is missing or mis-shaped, and refuses a non-empty `outDir` unless `overwrite`.
 */
export async function exportModelFolder(
  source: LlamaCheckpoint | StreamedCheckpoint,
  tokenizer: TokenizerFiles,
  outDir: string,
  options: ExportOptions,
): Promise<QuantizationReport> {
  const checkpoint = streamedCheckpointOf(source)
  validateCheckpoint(checkpoint)
  if (source.weights instanceof Map) validateInMemory(source as LlamaCheckpoint)
  const dtype = options.dtype ?? 'float32'
  const compute = options.compute ?? defaultLinearCompute
  const offsetBlocks = options.offsetBlocks ?? defaultOffsetBlocks
  if (options.offsetBlocks !== undefined && (dtype !== 'q4' || compute !== 'int8')) {
    throw new TillerError(
      'invalid-argument',
      `offsetBlocks applies to q4 exports with int8 compute; this export is ${dtype}` +
        `${quantBitsOf(dtype) === undefined ? '' : ` with ${compute} compute`}. Drop it or export q4 with int8 compute.`,
      { subject: 'offsetBlocks' },
    )
  }
  const record: ExportRecord = {
    graphFamily: options.family,
    attention: chooseAttention(options),
    dtype,
    ...(quantBitsOf(dtype) === undefined ? {} : { compute }),
    ...(dtype === 'q4' && compute === 'int8' ? { offsetBlocks } : {}),
  }
  // An import killed mid-swap left the old folder aside: put it back before deciding whether outDir is taken.
  recoverFolder(outDir)
  checkOutDir(outDir, options.overwrite ?? false)
  let report: QuantizationReport = {
    exactTensors: 0,
    offsetTensors: 0,
    requantizedTensors: 0,
    fittedTensors: 0,
    fittedRelativeRms: 0,
    maximumError: 0,
    byBits: { '4': { tensors: 0, maximumError: 0 }, '8': { tensors: 0, maximumError: 0 } },
  }
  await replaceFolderAtomic(outDir, async (staging) => {
    mkdirSync(join(staging, dirname(modelFiles.graph)), { recursive: true })
    const written = await writeGraph(checkpoint, join(staging, dirname(modelFiles.graph)), record, options)
    report = written.report
    const { weightsHash } = written
    writeJson(join(staging, modelFiles.config), configJson(checkpoint.config, record, weightsHash))
    writeJson(join(staging, modelFiles.generationConfig), generationConfigJson(checkpoint.config))
    writeJson(join(staging, modelFiles.tokenizer), tokenizer.tokenizerJson)
    writeJson(join(staging, modelFiles.tokenizerConfig), tokenizer.tokenizerConfig)
  })
  return report
}

export type { ExportDType, LinearCompute, OffsetBlocks, QuantizationReport } from './weights.ts'
export { defaultLinearCompute, defaultOffsetBlocks } from './weights.ts'
export type { ExportRecord } from './folder-files.ts'
export type { ExportProgress } from './weight-pass.ts'
export { checkpointWeightsHash } from './weights-hash.ts'
export { recordedWeightsHash } from './folder-files.ts'
