import onnxProto from 'onnx-proto'
import { TillerError } from '../errors.ts'

/**
 * The ONNX protobuf messages Tiller reads and writes, over onnx-proto (protobufjs static code for ONNX 1.10).
 *
 * Decoded messages are normalized so that the repeated fields Tiller edits are own, mutable arrays: protobufjs
 * leaves absent repeated fields pointing at a shared frozen empty array, which would make `push` throw.
 * int64 fields (dims, attribute ints, versions) decode as `Long`; read them with `toNumber`.
 */
export const onnx = onnxProto.onnx

/** An int64 field as protobufjs hands it over: a number, or a `Long` when decoded. */
export type Int64 = NonNullable<onnxProto.onnx.ITensorProto['dims']>[number]

/** A node attribute (onnx.AttributeProto fields). */
export type AttributeProto = onnxProto.onnx.IAttributeProto
/** An opset import: domain ('' = ai.onnx) and version. */
export type OperatorSetIdProto = onnxProto.onnx.IOperatorSetIdProto
/** A key/value pair (metadata, external data entries). */
export type StringStringEntryProto = onnxProto.onnx.IStringStringEntryProto

/** A tensor (initializer or attribute value); data in rawData, typed fields, or an external file. */
export interface TensorProto extends onnxProto.onnx.ITensorProto {
  name: string
  dims: Int64[]
  dataType: number
  externalData: StringStringEntryProto[]
}

/** A named, typed tensor declaration (graph input, output or value_info). */
export interface ValueInfoProto extends onnxProto.onnx.IValueInfoProto {
  name: string
}

/** One node: op type, domain, input and output tensor names, attributes. */
export interface NodeProto extends onnxProto.onnx.INodeProto {
  name: string
  opType: string
  domain: string
  input: string[]
  output: string[]
  attribute: AttributeProto[]
}

/** A graph: nodes (in topological order), initializers, inputs, outputs and value infos. */
export interface GraphProto extends onnxProto.onnx.IGraphProto {
  name: string
  node: NodeProto[]
  initializer: TensorProto[]
  input: ValueInfoProto[]
  output: ValueInfoProto[]
  valueInfo: ValueInfoProto[]
}

/** A model: IR version, opset imports, producer and the main graph. */
export interface ModelProto extends onnxProto.onnx.IModelProto {
  irVersion: Int64
  opsetImport: OperatorSetIdProto[]
  producerName: string
  graph: GraphProto
  metadataProps: StringStringEntryProto[]
}

/** ONNX tensor element types, keyed by the names onnxruntime-common uses for tensor types. */
export const TensorElementType = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
} as const

/** Name of an ONNX element type, e.g. 'float32', 'int64', 'float16'. */
export type ElementTypeName = keyof typeof TensorElementType

const bytesPerElementByType: Partial<Record<number, number>> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  16: 2,
}

/** Convert a protobufjs int64 (number or Long) to a JS number; exact below 2^53. */
export function toNumber(value: Int64 | null | undefined): number {
  if (value === null || value === undefined) return 0
  return typeof value === 'number' ? value : value.toNumber()
}

/** The name of an ONNX element type code, e.g. 1 → 'float32'. Throws on codes Tiller does not know. */
export function elementTypeName(code: number): ElementTypeName {
  for (const [name, value] of Object.entries(TensorElementType)) {
    if (value === code) return name as ElementTypeName
  }
  throw new TillerError('unsupported-tensor-type', `ONNX tensor element type ${code} is not supported.`)
}

/** Size in bytes of one element of a fixed-size ONNX element type (throws for strings and unknown codes). */
export function bytesPerElement(code: number): number {
  const size = bytesPerElementByType[code]
  if (size === undefined) {
    throw new TillerError(
      'unsupported-tensor-type',
      `ONNX tensor element type ${code} has no fixed element size.`,
    )
  }
  return size
}

/** The dims of a tensor proto as numbers. */
export function tensorDims(tensor: TensorProto): number[] {
  return tensor.dims.map(toNumber)
}

function normalizeGraph(graph: onnxProto.onnx.IGraphProto): GraphProto {
  const normalized = graph as GraphProto
  normalized.name = graph.name ?? ''
  normalized.node = (graph.node ?? []).map((node) => {
    const mutable = node as NodeProto
    mutable.name = node.name ?? ''
    mutable.opType = node.opType ?? ''
    mutable.domain = node.domain ?? ''
    mutable.input = [...(node.input ?? [])]
    mutable.output = [...(node.output ?? [])]
    mutable.attribute = [...(node.attribute ?? [])]
    return mutable
  })
  normalized.initializer = (graph.initializer ?? []).map((tensor) => {
    const mutable = tensor as TensorProto
    mutable.name = tensor.name ?? ''
    mutable.dims = [...(tensor.dims ?? [])]
    mutable.dataType = tensor.dataType ?? 0
    mutable.externalData = [...(tensor.externalData ?? [])]
    return mutable
  })
  const normalizeValueInfos = (
    infos: onnxProto.onnx.IValueInfoProto[] | null | undefined,
  ): ValueInfoProto[] =>
    (infos ?? []).map((info) => {
      const mutable = info as ValueInfoProto
      mutable.name = info.name ?? ''
      return mutable
    })
  normalized.input = normalizeValueInfos(graph.input)
  normalized.output = normalizeValueInfos(graph.output)
  normalized.valueInfo = normalizeValueInfos(graph.valueInfo)
  return normalized
}

/** Normalize a decoded or hand-built model so every field Tiller edits is present and mutable. */
export function normalizeModel(model: onnxProto.onnx.IModelProto): ModelProto {
  const normalized = model as ModelProto
  normalized.irVersion = model.irVersion ?? 0
  normalized.opsetImport = [...(model.opsetImport ?? [])]
  normalized.producerName = model.producerName ?? ''
  normalized.metadataProps = [...(model.metadataProps ?? [])]
  normalized.graph = normalizeGraph(model.graph ?? {})
  return normalized
}

/**
 * Decode an ONNX model file's bytes. `rawData` fields are zero-copy views into `bytes`, so keep `bytes` alive
 * and unmodified while the model is in use. `source` names the file in error messages.
 */
export function decodeModel(bytes: Uint8Array, source = 'model'): ModelProto {
  let decoded: onnxProto.onnx.ModelProto
  try {
    decoded = onnx.ModelProto.decode(bytes)
  } catch (error) {
    throw new TillerError('file-corrupt', `${source} is not a valid ONNX model (${String(error)}).`, {
      subject: source,
      cause: error,
    })
  }
  if (!decoded.graph) {
    throw new TillerError('file-corrupt', `${source} is an ONNX model without a graph.`, { subject: source })
  }
  return normalizeModel(decoded)
}

/** Encode a model to protobuf bytes (the content of a `.onnx` file). */
export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish()
}

/** The opset version a model imports for `domain` ('' is ai.onnx), or undefined when it does not import it. */
export function opsetVersion(model: ModelProto, domain: string): number | undefined {
  const entry = model.opsetImport.find((opset) => (opset.domain ?? '') === domain)
  return entry === undefined ? undefined : toNumber(entry.version)
}

/** Make `model` import `domain` at least at `version` (adds the import when missing). */
export function ensureOpset(model: ModelProto, domain: string, version: number): void {
  const entry = model.opsetImport.find((opset) => (opset.domain ?? '') === domain)
  if (entry === undefined) model.opsetImport.push({ domain, version })
  else if (toNumber(entry.version) < version) entry.version = version
}

/** The model's opset imports as a map from domain ('' = ai.onnx) to version. */
export function opsetMap(model: ModelProto): Record<string, number> {
  return Object.fromEntries(model.opsetImport.map((opset) => [opset.domain ?? '', toNumber(opset.version)]))
}
