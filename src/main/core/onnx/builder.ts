import { TillerError } from '../errors.ts'
import {
  normalizeModel,
  onnx,
  TensorElementType,
  type AttributeProto,
  type ElementTypeName,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto.ts'
import { makeTensor, type TensorValues } from './tensor.ts'

/** A dimension of a declared tensor shape: a fixed size or a symbolic name such as 'batch_size'. */
export type Dimension = number | string

/** A float attribute. Plain numbers are int attributes, so floats are marked explicitly. */
export interface FloatAttribute {
  kind: 'float'
  value: number
}

/** A list-of-floats attribute. Plain number arrays are int lists, so float lists are marked explicitly. */
export interface FloatsAttribute {
  kind: 'floats'
  values: number[]
}

/**
 * Attribute values: integer number → INT, `float(x)` → FLOAT, number[] → INTS, `floats([...])` → FLOATS,
 * string → STRING, a TensorProto → TENSOR.
 */
export type AttributeValue = number | number[] | string | FloatAttribute | FloatsAttribute | TensorProto

/** Mark a number as a float attribute. */
export function float(value: number): FloatAttribute {
  return { kind: 'float', value }
}

/** Mark a number list as a list-of-floats attribute. */
export function floats(values: number[]): FloatsAttribute {
  return { kind: 'floats', values }
}

/** One node to add. `outputs` default to names made by the builder's tensor namer. */
export interface NodeSpec {
  op: string
  name: string
  inputs: string[]
  outputs?: string[]
  /** How many outputs to name by default when `outputs` is absent (default 1). */
  outputCount?: number
  domain?: string
  attributes?: Record<string, AttributeValue>
}

/** How to start a GraphBuilder: opsets, naming, and optionally an existing graph to extend. */
export interface GraphBuilderOptions {
  name?: string
  /** Opset imports by domain ('' = ai.onnx), e.g. { '': 17, 'com.microsoft': 1 }. */
  opsets: Record<string, number>
  /**
   * An existing graph to extend in place (graph surgery): its node and tensor names count as taken. The model
   * that owns it must import every domain used; `ensureOpset` in proto.ts adds one.
   */
  graph?: GraphProto
  /** Default output tensor name of output `index` of node `nodeName`. Default: `${nodeName}/output_${index}`. */
  tensorName?: (nodeName: string, index: number) => string
}

/** Model-level fields written by `GraphBuilder.toModel`. */
export interface ModelOptions {
  irVersion?: number
  producerName?: string
  producerVersion?: string
  metadata?: Record<string, string>
}

/** A value info with a tensor type: element type plus dims (numbers or symbolic names). */
export function tensorValueInfo(
  name: string,
  type: ElementTypeName,
  dims: readonly Dimension[],
): ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: TensorElementType[type],
        shape: { dim: dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) },
      },
    },
  }) as ValueInfoProto
}

/** Build one attribute proto from a value (see AttributeValue for the mapping). */
export function makeAttribute(name: string, value: AttributeValue): AttributeProto {
  const types = onnx.AttributeProto.AttributeType
  if (typeof value === 'string') return { name, type: types.STRING, s: new TextEncoder().encode(value) }
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      throw new TillerError(
        'internal',
        `Attribute ${name}=${value} is not an integer; wrap floats with float().`,
      )
    }
    return { name, type: types.INT, i: value }
  }
  if (Array.isArray(value)) {
    if (!value.every(Number.isInteger)) {
      throw new TillerError('internal', `Attribute ${name} has non-integers; wrap float lists with floats().`)
    }
    return { name, type: types.INTS, ints: value }
  }
  if ('kind' in value && value.kind === 'float') return { name, type: types.FLOAT, f: value.value }
  if ('kind' in value && value.kind === 'floats') return { name, type: types.FLOATS, floats: value.values }
  return { name, type: types.TENSOR, t: value as TensorProto }
}

/** Build a standalone node proto (for surgery helpers such as `insertAfter`). */
export function makeNode(spec: NodeSpec & { outputs: string[] }): NodeProto {
  return {
    name: spec.name,
    opType: spec.op,
    domain: spec.domain ?? '',
    input: [...spec.inputs],
    output: [...spec.outputs],
    attribute: Object.entries(spec.attributes ?? {}).map(([name, value]) => makeAttribute(name, value)),
  }
}

/**
 * Builds an ONNX graph node by node. Names are checked: adding a second node, initializer or tensor producer
 * under a taken name throws, so mistakes surface at build time rather than as ORT load errors.
 */
export class GraphBuilder {
  readonly graph: GraphProto
  private readonly opsets: Record<string, number>
  private readonly tensorName: (nodeName: string, index: number) => string
  private readonly nodeNames = new Set<string>()
  private readonly producedTensors = new Set<string>()
  private readonly nameCounters = new Map<string, number>()

  constructor(options: GraphBuilderOptions) {
    this.opsets = { ...options.opsets }
    this.tensorName = options.tensorName ?? ((nodeName, index) => `${nodeName}/output_${index}`)
    this.graph = options.graph ?? {
      name: options.name ?? 'main',
      node: [],
      initializer: [],
      input: [],
      output: [],
      valueInfo: [],
    }
    for (const node of this.graph.node) {
      this.nodeNames.add(node.name)
      for (const output of node.output) if (output !== '') this.producedTensors.add(output)
    }
    for (const tensor of this.graph.initializer) this.producedTensors.add(tensor.name)
    for (const info of this.graph.input) this.producedTensors.add(info.name)
  }

  /**
   * A node name not used yet: `base` itself, else `base_1`, `base_2`, ... (the TorchScript numbering, where a
   * scope's second Add is `Add_1`).
   */
  uniqueName(base: string): string {
    let counter = this.nameCounters.get(base) ?? 0
    let candidate = counter === 0 ? base : `${base}_${counter}`
    while (this.nodeNames.has(candidate)) {
      counter++
      candidate = `${base}_${counter}`
    }
    this.nameCounters.set(base, counter + 1)
    return candidate
  }

  /** Declare a graph input. Returns its name. */
  input(name: string, type: ElementTypeName, dims: readonly Dimension[]): string {
    this.claimTensor(name)
    this.graph.input.push(tensorValueInfo(name, type, dims))
    return name
  }

  /** Declare a graph output (an existing tensor). */
  output(name: string, type: ElementTypeName, dims: readonly Dimension[]): void {
    this.graph.output.push(tensorValueInfo(name, type, dims))
  }

  /** Record the type and shape of an intermediate tensor (helps shape inference and readers). */
  valueInfo(name: string, type: ElementTypeName, dims: readonly Dimension[]): void {
    this.graph.valueInfo.push(tensorValueInfo(name, type, dims))
  }

  /** Add an initializer from typed values (float16 as Uint16Array bit patterns). Returns its name. */
  initializer(name: string, type: ElementTypeName, dims: readonly number[], values: TensorValues): string {
    return this.addInitializer(makeTensor(name, type, dims, values))
  }

  /** Add a prepared tensor proto as an initializer. Returns its name. */
  addInitializer(tensor: TensorProto): string {
    this.claimTensor(tensor.name)
    this.graph.initializer.push(tensor)
    return tensor.name
  }

  /** Whether a tensor name is already an input, initializer or node output. */
  hasTensor(name: string): boolean {
    return this.producedTensors.has(name)
  }

  /** Add a node; returns its output names. */
  node(spec: NodeSpec): string[] {
    if (this.nodeNames.has(spec.name)) {
      throw new TillerError('internal', `Node name ${spec.name} is used twice in graph ${this.graph.name}.`)
    }
    const domain = spec.domain ?? ''
    if (this.opsets[domain] === undefined) {
      throw new TillerError(
        'internal',
        `Node ${spec.name} uses domain '${domain}', which the graph does not import.`,
      )
    }
    const outputs =
      spec.outputs ??
      Array.from({ length: spec.outputCount ?? 1 }, (_, index) => this.tensorName(spec.name, index))
    for (const output of outputs) if (output !== '') this.claimTensor(output)
    this.nodeNames.add(spec.name)
    this.graph.node.push(makeNode({ ...spec, outputs }))
    return outputs
  }

  /** Add a single-output node and return that output's name. */
  node1(spec: NodeSpec): string {
    const [output] = this.node(spec)
    if (output === undefined) throw new TillerError('internal', `Node ${spec.name} has no output.`)
    return output
  }

  /** The finished model: the graph plus opset imports and producer metadata. */
  toModel(options: ModelOptions = {}): ModelProto {
    return normalizeModel({
      irVersion: options.irVersion ?? 8,
      producerName: options.producerName ?? 'tiller',
      producerVersion: options.producerVersion ?? '',
      opsetImport: Object.entries(this.opsets).map(([domain, version]) => ({ domain, version })),
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: this.graph,
    })
  }

  private claimTensor(name: string): void {
    if (this.producedTensors.has(name)) {
      throw new TillerError('internal', `Tensor name ${name} is produced twice in graph ${this.graph.name}.`)
    }
    this.producedTensors.add(name)
  }
}
