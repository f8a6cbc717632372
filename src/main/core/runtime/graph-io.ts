/**
 * What a decoder session expects and returns, read from `session.inputMetadata`/`outputMetadata`: the KV-cache
 * layout and dtype, and which optional inputs the graph declares.
 */
import * as ort from 'onnxruntime-node'
import { graphInputs, graphOutputs, pastName, presentName } from '../models/graph-contract.ts'
import { TillerError } from '../errors.ts'

/** Element type of cache tensors and logits. */
export type CacheDType = 'float32' | 'float16'

/**
 * The KV cache of a graph. Every past/present tensor is `[batch, kvHeads, length, headDim]`.
 */
export interface CacheLayout {
  dtype: CacheDType
  layers: number
  kvHeads: number
  headDim: number
  /** past_key_values.{l}.key, past_key_values.{l}.value, per layer in that order: 2 * layers names. */
  pastNames: string[]
  /** present.{l}.key, present.{l}.value, aligned with pastNames. */
  presentNames: string[]
}

/** The inputs and outputs of a decoder graph that the runtime feeds or reads. */
export interface GraphInterface {
  cache: CacheLayout
  hasPositionIds: boolean
  /** `num_logits_to_keep` / `logits_to_keep` input name when the graph can compute logits for the last position only. */
  logitsToKeepInput: string | undefined
  logitsDType: CacheDType
  /** Inputs the runtime does not know (e.g. a steered graph's `tiller_strength`): callers feed them. */
  extraInputNames: string[]
  outputNames: readonly string[]
}

const knownInputs = new Set<string>([
  graphInputs.inputIds,
  graphInputs.attentionMask,
  graphInputs.positionIds,
])
const logitsToKeepNames = ['num_logits_to_keep', 'logits_to_keep']

function floatType(type: string, what: string, graphPath: string): CacheDType {
  if (type === 'float32' || type === 'float16') return type
  throw new TillerError(
    'unsupported-tensor-type',
    `${graphPath}: ${what} has element type ${type}; Tiller runs float32 or float16 decoder graphs.`,
    { subject: `${graphPath}:${what}` },
  )
}

/**
 * Read the cache layout and optional inputs of `session`, loaded from `graphPath`. A `hooksOnly` graph (capture's,
 * compiled with `hooksOnly`) keeps the decoder's inputs but outputs only hooks: no logits or cache outputs.
 */
export function readGraphInterface(
  session: ort.InferenceSession,
  graphPath: string,
  options: { hooksOnly?: boolean } = {},
): GraphInterface {
  const hooksOnly = options.hooksOnly === true
  const inputs = new Map(session.inputMetadata.map((entry) => [entry.name, entry]))
  const outputs = new Map(session.outputMetadata.map((entry) => [entry.name, entry]))
  for (const name of [graphInputs.inputIds, graphInputs.attentionMask]) {
    if (!inputs.has(name)) {
      throw new TillerError(
        'invalid-model-folder',
        `${graphPath} has no "${name}" input; it is not a decoder graph Tiller can run (see graph-contract).`,
        { subject: `${graphPath}:${name}` },
      )
    }
  }
  const logits = outputs.get(graphOutputs.logits)
  if (!hooksOnly && (logits === undefined || !logits.isTensor)) {
    throw new TillerError(
      'invalid-model-folder',
      `${graphPath} has no "logits" output; export it with logits.`,
      {
        subject: `${graphPath}:logits`,
      },
    )
  }
  let layers = 0
  while (inputs.has(pastName(layers, 'key'))) layers++
  if (layers === 0) {
    throw new TillerError(
      'invalid-model-folder',
      `${graphPath} has no KV-cache inputs (past_key_values.0.key ...); export the decoder with a KV cache.`,
      { subject: graphPath },
    )
  }
  const pastNames: string[] = []
  const presentNames: string[] = []
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of ['key', 'value'] as const) {
      if (!inputs.has(pastName(layer, kind)) || (!hooksOnly && !outputs.has(presentName(layer, kind)))) {
        throw new TillerError(
          'invalid-model-folder',
          `${graphPath} lacks ${pastName(layer, kind)} or ${presentName(layer, kind)}; the cache must be complete.`,
          { subject: `${graphPath}:${pastName(layer, kind)}` },
        )
      }
      pastNames.push(pastName(layer, kind))
      presentNames.push(presentName(layer, kind))
    }
  }
  const first = inputs.get(pastName(0, 'key'))
  if (first === undefined || !first.isTensor) throw new TillerError('internal', 'cache metadata vanished')
  const dtype = floatType(first.type, pastName(0, 'key'), graphPath)
  const [, kvHeads, , headDim] = first.shape
  if (typeof kvHeads !== 'number' || typeof headDim !== 'number') {
    throw new TillerError(
      'invalid-model-folder',
      `${graphPath}: ${pastName(0, 'key')} has shape [${first.shape.join(', ')}]; kv heads and head size must be fixed.`,
      { subject: `${graphPath}:${pastName(0, 'key')}` },
    )
  }
  const logitsToKeepInput = logitsToKeepNames.find((name) => inputs.has(name))
  const cacheInputs = new Set(pastNames)
  const extraInputNames = session.inputNames.filter(
    (name) => !knownInputs.has(name) && !cacheInputs.has(name) && name !== logitsToKeepInput,
  )
  return {
    cache: { dtype, layers, kvHeads, headDim, pastNames, presentNames },
    hasPositionIds: inputs.has(graphInputs.positionIds),
    logitsToKeepInput,
    logitsDType: logits?.isTensor === true ? floatType(logits.type, 'logits', graphPath) : dtype,
    extraInputNames,
    outputNames: session.outputNames,
  }
}

/** Zero-length past tensors `[batch, kvHeads, 0, headDim]` for the first step, in pastNames order. */
export function emptyCache(layout: CacheLayout, batch: number): ort.Tensor[] {
  const dims = [batch, layout.kvHeads, 0, layout.headDim]
  return layout.pastNames.map(() =>
    layout.dtype === 'float16'
      ? new ort.Tensor('float16', new Uint16Array(0), dims)
      : new ort.Tensor('float32', new Float32Array(0), dims),
  )
}
