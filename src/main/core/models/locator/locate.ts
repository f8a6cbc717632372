import type { HookSite } from '../../../../shared/edit.ts'
import { TillerError } from '../../errors.ts'
import { GraphIndex } from '../../onnx/graph-index.ts'
import type { ModelProto, NodeProto } from '../../onnx/proto.ts'
import type { LayerSites, SiteLocation } from './hook-map.ts'
import { locateGateActivation } from './mlp-gate.ts'
import { fusedResidualOps, linearOps, passThroughOps, projectionRole } from './node-names.ts'
import { decomposedNormOutput, normalizationOps } from './norm-walk.ts'

/**
 * Structural hook-site location (RUNTIME-NOTES §2.6), one algorithm for both export families:
 *   1. per layer, find the two linear anchors by their normalized node names: the attention output projection
 *      (o_proj) and the MLP down projection; their float inputs are `attn_heads` and `mlp_act`;
 *   2. from each anchor's output, walk forward through casts, bias and dequantization arithmetic to the residual
 *      join: a binary Add with a non-constant second input (optimum family) or a fused Skip*LayerNorm (builder
 *      family), also through a norm of the sub-layer output (Gemma's post-attention and post-feedforward norms,
 *      norm-walk.ts). The walked tensor, the one added to the residual, is the sub-layer output (`attn_out`,
 *      `mlp_out`): for Gemma the normed output, so an edit there moves the residual stream as it does in Llama;
 *   3. the join's other input is the residual entering the sub-layer; the join after the MLP is `resid_post`;
 *   4. `mlp_act` is the gated product act(gate)·up: its non-linear input is `mlp_gate` (mlp-gate.ts). Every
 *      architecture Tiller loads has a gated MLP, so a model without one fails here, naming the site.
 * Consistency checks (the MLP join reads the attention join's sum; block l reads block l-1's output) turn a
 * graph the locator does not understand into an error naming the layer and site instead of a wrong answer.
 */

interface Join {
  node: NodeProto
  /** Input index of the sub-layer output at the join. */
  subInput: number
  /** Input index of the residual at the join. */
  rootInput: number
  fused: boolean
}

interface SubLayer {
  /** The float tensor entering the projection: [batch, seq, heads·headDim] or [batch, seq, intermediate]. */
  input: string
  /** The sub-layer output as it is added to the residual [batch, seq, hidden]. */
  output: string
  join: Join
}

function siteError(layer: number, sites: HookSite[], reason: string): TillerError {
  return new TillerError(
    'unsupported-architecture',
    `Layer ${layer}: cannot locate ${sites.join('/')} — ${reason}. The graph's structure is not one Tiller ` +
      'recognises; re-export the model with Tiller or report the exporter that produced it.',
    { subject: `layer ${layer} ${sites.join('/')}` },
  )
}

function isConstant(index: GraphIndex, tensor: string): boolean {
  if (index.isInitializer(tensor)) return true
  const producer = index.producer(tensor)
  return producer !== undefined && producer.opType === 'Constant'
}

/**
 * The float activation entering a projection; walks back through dynamic quantization (MatMulInteger) and the
 * float32 cast a float16 graph puts before DynamicQuantizeMatMul (the site is the model-typed tensor).
 */
function projectionInput(index: GraphIndex, anchor: NodeProto): string | undefined {
  const input = anchor.input[0]
  if (input === undefined || input === '') return undefined
  const producer = index.producer(input)
  if (anchor.opType === 'DynamicQuantizeMatMul')
    return producer?.opType === 'Cast' ? producer.input[0] : input
  if (producer?.opType !== 'DynamicQuantizeLinear') return input
  // float16 graphs cast the activation to float32 for DynamicQuantizeLinear; the site is the model-typed tensor.
  const quantized = producer.input[0] ?? ''
  const cast = index.producer(quantized)
  return cast?.opType === 'Cast' ? cast.input[0] : quantized
}

function findJoin(
  index: GraphIndex,
  anchor: NodeProto,
  layer: number,
  sites: HookSite[],
): { output: string; join: Join } {
  let tensor = anchor.output[0] ?? ''
  for (let depth = 0; depth < 12; depth++) {
    const consumers = index.consumers(tensor)
    const normed = consumers.length > 1 ? decomposedNormOutput(index, tensor) : undefined
    if (normed !== undefined) {
      tensor = normed
      continue
    }
    const [consumer] = consumers
    if (consumers.length !== 1 || consumer === undefined) {
      throw siteError(
        layer,
        sites,
        `${anchor.name}'s output path reaches ${tensor}, read by ${consumers.length} nodes`,
      )
    }
    const at = consumer.input.indexOf(tensor)
    if (fusedResidualOps.has(consumer.opType) && (at === 0 || at === 1)) {
      return { output: tensor, join: { node: consumer, subInput: at, rootInput: 1 - at, fused: true } }
    }
    if (consumer.opType === 'Add' && consumer.input.length === 2 && (at === 0 || at === 1)) {
      const other = consumer.input[1 - at] ?? ''
      if (!isConstant(index, other)) {
        return { output: tensor, join: { node: consumer, subInput: at, rootInput: 1 - at, fused: false } }
      }
    }
    const throughNorm = normalizationOps.has(consumer.opType) && at === 0
    if (!passThroughOps.has(consumer.opType) && !throughNorm) {
      throw siteError(
        layer,
        sites,
        `${anchor.name}'s output reaches ${consumer.opType} node ${consumer.name} before any residual add`,
      )
    }
    tensor = consumer.output[0] ?? ''
  }
  throw siteError(layer, sites, `no residual add within 12 nodes after ${anchor.name}`)
}

function subLayer(
  index: GraphIndex,
  anchor: NodeProto | undefined,
  layer: number,
  sites: HookSite[],
): SubLayer {
  if (anchor === undefined) throw siteError(layer, sites, 'no projection node with a matching name was found')
  const input = projectionInput(index, anchor)
  if (input === undefined) throw siteError(layer, sites, `${anchor.name} has no data input`)
  return { input, ...findJoin(index, anchor, layer, sites) }
}

/** The location of the residual that enters a join: a fused node's output 3 or a plain tensor. */
function residualLocation(index: GraphIndex, tensor: string): SiteLocation {
  const producer = index.producer(tensor)
  if (
    producer !== undefined &&
    fusedResidualOps.has(producer.opType) &&
    producer.output.indexOf(tensor) === 3
  ) {
    // Input indices are filled in from the previous block's MLP join, which produced this sum.
    return { kind: 'fusedResidual', node: producer.name, rootInput: -1, skipInput: -1 }
  }
  return { kind: 'tensor', tensor }
}

function joinOutputLocation(join: Join): SiteLocation {
  if (join.fused) {
    return {
      kind: 'fusedResidual',
      node: join.node.name,
      rootInput: join.rootInput,
      skipInput: join.subInput,
    }
  }
  return { kind: 'tensor', tensor: join.node.output[0] ?? '' }
}

function sameLocation(first: SiteLocation, second: SiteLocation): boolean {
  if (first.kind === 'tensor' && second.kind === 'tensor') return first.tensor === second.tensor
  if (first.kind === 'fusedResidual' && second.kind === 'fusedResidual') return first.node === second.node
  return false
}

/** The projection anchors of every layer, keyed by layer. */
function anchorsByLayer(index: GraphIndex): Map<number, { attention?: NodeProto; mlp?: NodeProto }> {
  const anchors = new Map<number, { attention?: NodeProto; mlp?: NodeProto }>()
  for (const node of index.graph.node) {
    if (!linearOps.has(node.opType)) continue
    const role = projectionRole(node.name)
    if (role === undefined) continue
    const entry = anchors.get(role.layer) ?? {}
    if (entry[role.role] !== undefined) {
      throw siteError(
        role.layer,
        role.role === 'attention' ? ['attn_heads'] : ['mlp_act'],
        `two projection nodes (${entry[role.role]?.name}, ${node.name})`,
      )
    }
    entry[role.role] = node
    anchors.set(role.layer, entry)
  }
  return anchors
}

/**
 * Locate the seven hook sites of every decoder block of `model` by graph structure. Throws a TillerError naming
 * the layer and site when a site cannot be found.
 */
export function locateSites(model: ModelProto): { family: 'builder' | 'optimum'; layers: LayerSites[] } {
  const index = new GraphIndex(model.graph)
  const anchors = anchorsByLayer(index)
  if (anchors.size === 0) {
    throw new TillerError(
      'unsupported-architecture',
      'No decoder layers found: no node is named like /layers.{i}/…/o_proj/MatMul or /mlp/down_proj/MatMul.',
    )
  }
  const layerCount = Math.max(...anchors.keys()) + 1
  const layers: LayerSites[] = []
  let fusedJoins = 0
  for (let layer = 0; layer < layerCount; layer++) {
    const entry = anchors.get(layer) ?? {}
    const attention = subLayer(index, entry.attention, layer, ['attn_heads', 'attn_out'])
    const mlp = subLayer(index, entry.mlp, layer, ['mlp_act', 'mlp_out'])
    if (attention.join.fused) fusedJoins++
    const attentionRoot = attention.join.node.input[attention.join.rootInput] ?? ''
    const mlpRoot = mlp.join.node.input[mlp.join.rootInput] ?? ''
    const midSum = attention.join.fused ? attention.join.node.output[3] : attention.join.node.output[0]
    if (midSum === undefined || midSum === '' || midSum !== mlpRoot) {
      throw siteError(
        layer,
        ['resid_post'],
        `the MLP's residual add does not read the attention's residual sum`,
      )
    }
    const gate = locateGateActivation(index, mlp.input)
    if ('problem' in gate) throw siteError(layer, ['mlp_gate'], gate.problem)
    const previous = layers[layer - 1]
    const residPre = residualLocation(index, attentionRoot)
    if (previous !== undefined && !sameLocation(previous.resid_post, residPre)) {
      throw siteError(layer, ['resid_pre'], `the block does not read layer ${layer - 1}'s output`)
    }
    const sites: LayerSites = {
      // Block l's input is block l-1's output; reuse that location so both carry the right input indices.
      resid_pre: previous?.resid_post ?? residPre,
      attn_heads: { kind: 'tensor', tensor: attention.input },
      attn_out: { kind: 'tensor', tensor: attention.output },
      mlp_gate: { kind: 'tensor', tensor: gate.tensor },
      mlp_act: { kind: 'tensor', tensor: mlp.input },
      mlp_out: { kind: 'tensor', tensor: mlp.output },
      resid_post: joinOutputLocation(mlp.join),
    }
    layers.push(sites)
  }
  return { family: fusedJoins > 0 ? 'builder' : 'optimum', layers }
}
