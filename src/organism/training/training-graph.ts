import { expectedWeightShapes, type LlamaConfig } from '../../main/core/models/checkpoint.ts'
import { TensorElementType, type ModelProto } from '../../main/core/onnx/proto.ts'
import { int64Tensor, makeTensor } from '../../main/core/onnx/tensor.ts'
import { blockBackward, blockForward, type BlockShape, type BlockWeights } from './decoder-block.ts'
import { GraphOps, type FloatType } from '../../main/core/onnx/graph-ops.ts'
import { linear, linearBackward, rmsNorm, rmsNormBackward } from './primitives.ts'
import {
  separationBackward,
  separationForward,
  type SeparationContext,
  type SeparationSaved,
  type SeparationSettings,
} from './separation-term.ts'

/**
 * The organism's training step as one ONNX graph: forward pass, mean cross-entropy and the hand-derived
 * backward pass of a Llama decoder with tied or untied embeddings, so every heavy product runs in ONNX Runtime.
 *
 * Inputs (fixed sizes):
 *   input_ids       int64  [batch, seq]
 *   targets         int64  [batch, seq]          next token at each position (any id where the weight is 0)
 *   loss_weights    float  [batch, seq]          weight of each position's loss (sums to 1 over a batch)
 *   attention_bias  float  [batch, 1, seq, seq]  0 where a query may attend a key, -1e9 elsewhere
 *   rope_cos/sin    float  [batch, 1, seq, headDim]  rotary tables at each token's position
 *   <weight name>   float  Hugging Face shape, for every weight of `expectedWeightShapes(config)`
 *   contrast_weights float [groups, batch · seq]  only with `separation` (see separation-term.ts)
 * Outputs:
 *   loss            float  []                    Σ weights · (−log p(target))
 *   separation      float  []                    mean squared cosine between contrasts, only with `separation`;
 *                                                the gradients are those of loss + separation.weight · separation
 *                                                (norms held constant in the second with `fixedNorms`)
 *   gradient.<name> float  shape of that weight  ∂loss/∂weight
 *   logits          float  [batch, seq, vocab]   only when `outputLogits`
 * A forward-only variant (`backward: false`) has the same inputs and only `loss` (and `logits`).
 */

/** What to build the training graph for. */
export interface TrainingGraphOptions {
  /** Llama sizes; must give every query head its own key/value head. */
  config: LlamaConfig
  batch: number
  sequence: number
  floatType: FloatType
  /** Also output the logits (for checking the forward pass against a reference, and for evaluation). */
  outputLogits?: boolean
  /** Build the backward pass and gradient outputs (default true); false gives a forward-only graph. */
  backward?: boolean
  /**
   * Add the separation term over `groups` contrasts, weighted by `weight`, at every layer's output; `fixedNorms`
   * holds the differences' norms constant in its gradient (see separationBackward).
   */
  separation?: SeparationSettings
}

/** Names of the per-batch graph inputs. */
export const trainingInputs = {
  inputIds: 'input_ids',
  targets: 'targets',
  lossWeights: 'loss_weights',
  attentionBias: 'attention_bias',
  cos: 'rope_cos',
  sin: 'rope_sin',
  contrastWeights: 'contrast_weights',
} as const

/** Name of the graph output holding the gradient of weight `name`. */
export function gradientName(name: string): string {
  return `gradient.${name}`
}

function blockWeights(layer: number): BlockWeights {
  const prefix = `model.layers.${layer}`
  return {
    inputNorm: `${prefix}.input_layernorm.weight`,
    query: `${prefix}.self_attn.q_proj.weight`,
    key: `${prefix}.self_attn.k_proj.weight`,
    value: `${prefix}.self_attn.v_proj.weight`,
    output: `${prefix}.self_attn.o_proj.weight`,
    postNorm: `${prefix}.post_attention_layernorm.weight`,
    gate: `${prefix}.mlp.gate_proj.weight`,
    up: `${prefix}.mlp.up_proj.weight`,
    down: `${prefix}.mlp.down_proj.weight`,
  }
}

/** The contrast weights input and the off-diagonal mask of the separation term. */
function separationInputs(
  ops: GraphOps,
  settings: SeparationSettings,
  rows: number,
  layers: number,
): SeparationContext {
  const floatType = ops.floatType
  const groups = settings.groups
  const contrastWeights = ops.builder.input(trainingInputs.contrastWeights, floatType, [groups, rows])
  const mask = Array.from({ length: groups * groups }, (_, index) =>
    Math.floor(index / groups) === index % groups ? 0 : 1,
  )
  const offDiagonalMask = ops.builder.addInitializer(
    makeTensor(
      'off_diagonal_mask',
      floatType,
      [groups, groups],
      floatType === 'float32' ? Float32Array.from(mask) : Float64Array.from(mask),
    ),
  )
  return {
    contrastWeights,
    offDiagonalMask,
    terms: Math.max(1, (layers * groups * (groups - 1)) / 2),
    settings,
  }
}

/** Build the training-step graph. Throws a RangeError for configurations it does not support. */
export function buildTrainingGraph(options: TrainingGraphOptions): ModelProto {
  const { config, batch, sequence, floatType } = options
  if (config.numKeyValueHeads !== config.numHeads)
    throw new RangeError('the training graph expects as many key/value heads as heads')
  const ops = new GraphOps(floatType)
  const builder = ops.builder
  const rows = batch * sequence
  const vocab = config.vocabSize
  const shape: BlockShape = {
    batch,
    sequence,
    hidden: config.hiddenSize,
    heads: config.numHeads,
    headDim: config.headDim,
    rmsNormEps: config.rmsNormEps,
  }

  const inputIds = builder.input(trainingInputs.inputIds, 'int64', [batch, sequence])
  const targets = builder.input(trainingInputs.targets, 'int64', [batch, sequence])
  const lossWeights = builder.input(trainingInputs.lossWeights, floatType, [batch, sequence])
  const bias = builder.input(trainingInputs.attentionBias, floatType, [batch, 1, sequence, sequence])
  const cos = builder.input(trainingInputs.cos, floatType, [batch, 1, sequence, config.headDim])
  const sin = builder.input(trainingInputs.sin, floatType, [batch, 1, sequence, config.headDim])
  const weightShapes = expectedWeightShapes(config)
  for (const [name, dims] of weightShapes) builder.input(name, floatType, dims)
  const embedding = 'model.embed_tokens.weight'
  const outputWeight = config.tieWordEmbeddings ? embedding : 'lm_head.weight'
  const context = { cos, sin, bias }
  const separationContext =
    options.separation === undefined
      ? undefined
      : separationInputs(ops, options.separation, rows, config.numLayers)
  // one-hot(ids) as Equal against 0..vocab-1 (ORT's OneHot has no float64 kernel): ids [m] → [m, vocab].
  const vocabularyIds = builder.addInitializer(
    int64Tensor(
      'vocabulary_ids',
      Array.from({ length: vocab }, (_, id) => id),
      [1, vocab],
    ),
  )
  const floatCode = TensorElementType[floatType]
  const oneHot = (ids: string): string =>
    ops.op('Cast', [ops.op('Equal', [ops.op('Unsqueeze', [ids, ops.ints([1])]), vocabularyIds])], {
      to: floatCode,
    })

  // Forward.
  const flatIds = ops.scoped('embedding', () => ops.reshape(inputIds, [rows]))
  let hidden = ops.scoped('embedding', () => ops.op('Gather', [embedding, flatIds], { axis: 0 }))
  const saved = []
  const separationSaved: SeparationSaved[] = []
  let separationValue: string | undefined
  for (let layer = 0; layer < config.numLayers; layer++) {
    const result = ops.scoped(`layers.${layer}/forward`, () =>
      blockForward(ops, shape, blockWeights(layer), context, hidden),
    )
    saved.push(result.saved)
    hidden = result.output
    if (separationContext !== undefined) {
      const term = ops.scoped(`layers.${layer}/separation`, () =>
        separationForward(ops, separationContext, result.output),
      )
      separationSaved.push(term.saved)
      separationValue = separationValue === undefined ? term.value : ops.add(separationValue, term.value)
    }
  }
  const head = ops.scoped('head', () => {
    const norm = rmsNorm(ops, hidden, 'model.norm.weight', config.rmsNormEps)
    const logits = linear(ops, norm.output, outputWeight)
    const logProbabilities = ops.op('LogSoftmax', [logits], { axis: -1 })
    const picked = ops.op('GatherElements', [logProbabilities, ops.reshape(targets, [rows, 1])], { axis: 1 })
    const flatWeights = ops.reshape(lossWeights, [rows, 1])
    const loss = ops.neg(ops.op('ReduceSum', [ops.mul(picked, flatWeights)], { keepdims: 0 }))
    return { norm, logits, logProbabilities, flatWeights, loss }
  })
  builder.output(ops.identity(head.loss, 'loss'), floatType, [])
  if (separationValue !== undefined)
    builder.output(ops.identity(separationValue, 'separation'), floatType, [])
  if (options.outputLogits === true) {
    const logits = ops.scoped('outputs', () => ops.reshape(head.logits, [batch, sequence, vocab]))
    builder.output(ops.identity(logits, 'logits'), floatType, [batch, sequence, vocab])
  }
  if (options.backward === false) return builder.toModel({ producerName: 'tiller-organism-training' })

  const headBackward = ops.scoped('head/backward', () => {
    // d loss / d logits = weight · (softmax − one-hot(target)).
    const targetOneHot = oneHot(ops.reshape(targets, [rows]))
    const dLogits = ops.mul(ops.sub(ops.op('Exp', [head.logProbabilities]), targetOneHot), head.flatWeights)
    const throughHead = linearBackward(ops, head.norm.output, outputWeight, dLogits)
    const throughNorm = rmsNormBackward(ops, head.norm.saved, 'model.norm.weight', throughHead.dx)
    return { dHidden: throughNorm.dx, dNorm: throughNorm.dGamma, dOutputWeight: throughHead.dWeight }
  })

  // Backward through the blocks, last to first.
  const gradients = new Map<string, string>()
  let dHidden = headBackward.dHidden
  for (let layer = config.numLayers - 1; layer >= 0; layer--) {
    const layerSaved = saved[layer]
    if (layerSaved === undefined) throw new RangeError(`no saved tensors for layer ${layer}`)
    const termSaved = separationSaved[layer]
    if (separationContext !== undefined && termSaved !== undefined) {
      const dTerm = ops.scoped(`layers.${layer}/separation/backward`, () =>
        separationBackward(ops, separationContext, termSaved),
      )
      dHidden = ops.add(dHidden, dTerm)
    }
    const weights = blockWeights(layer)
    const result = ops.scoped(`layers.${layer}/backward`, () =>
      blockBackward(ops, shape, weights, context, layerSaved, dHidden),
    )
    for (const key of Object.keys(weights) as (keyof BlockWeights)[])
      gradients.set(weights[key], result.gradients[key])
    dHidden = result.dInput
  }
  const dEmbedding = ops.scoped('embedding/backward', () => {
    const throughInput = ops.matmulTransposeA(oneHot(flatIds), dHidden)
    // A tied head's gradient adds to the input side's; an untied head has its own.
    return config.tieWordEmbeddings ? ops.add(headBackward.dOutputWeight, throughInput) : throughInput
  })
  gradients.set(embedding, dEmbedding)
  if (!config.tieWordEmbeddings) gradients.set(outputWeight, headBackward.dOutputWeight)
  gradients.set('model.norm.weight', headBackward.dNorm)

  for (const [name, dims] of weightShapes) {
    const gradient = gradients.get(name)
    if (gradient === undefined) throw new RangeError(`no gradient was built for ${name}`)
    builder.output(ops.identity(gradient, gradientName(name)), floatType, dims)
  }
  return builder.toModel({ producerName: 'tiller-organism-training' })
}
