import { TillerError } from '../errors.ts'
import {
  expectedWeightShapes,
  type LlamaCheckpoint,
  type LlamaConfig,
  type WeightTensor,
} from './checkpoint.ts'

/**
 * Deterministic random Llama checkpoints for tests and benchmarks: the same (config, seed) always gives the same
 * weights, bit for bit, on every machine.
 *
 * Scales keep the model well-conditioned at any size: projections have std 1/sqrt(fan_in) so sub-layer outputs
 * have roughly unit RMS; the residual-writing projections (o_proj, down_proj) are further scaled by
 * 1/sqrt(2·layers) so the residual stream does not grow with depth; norm weights are 1 ± 0.2 (not all ones, so a
 * missing norm-weight multiply shows up in tests); embeddings have std 2/sqrt(hidden), which with the tied or
 * untied head gives logits with a standard deviation of about 2: peaked enough that greedy decoding varies,
 * flat enough that sampling is not degenerate.
 */

/** mulberry32: a small, fast 32-bit PRNG; good enough for test weights. */
function uniformSource(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let mixed = state
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1)
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61)
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal samples by Box-Muller over the uniform source. */
function normalSource(seed: number): () => number {
  const uniform = uniformSource(seed)
  let spare: number | undefined
  return () => {
    if (spare !== undefined) {
      const value = spare
      spare = undefined
      return value
    }
    const radius = Math.sqrt(-2 * Math.log(1 - uniform()))
    const angle = 2 * Math.PI * uniform()
    spare = radius * Math.sin(angle)
    return radius * Math.cos(angle)
  }
}

/** Mix the checkpoint seed with the weight name so each tensor has its own stream (order-independent). */
function tensorSeed(seed: number, name: string): number {
  let hash = (seed ^ 0x9e3779b9) >>> 0
  for (let index = 0; index < name.length; index++) {
    hash = Math.imul(hash ^ name.charCodeAt(index), 0x01000193) >>> 0
  }
  return hash
}

function initialization(name: string, shape: number[], config: LlamaConfig): { mean: number; std: number } {
  if (name.endsWith('norm.weight')) return { mean: 1, std: 0.2 }
  if (name.endsWith('.bias')) return { mean: 0, std: 0.5 }
  if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') {
    return { mean: 0, std: 2 / Math.sqrt(config.hiddenSize) }
  }
  const fanIn = shape[1] ?? 1
  const residualWriter = name.endsWith('o_proj.weight') || name.endsWith('down_proj.weight')
  const depthScale = residualWriter ? 1 / Math.sqrt(2 * config.numLayers) : 1
  return { mean: 0, std: depthScale / Math.sqrt(fanIn) }
}

function checkConfig(config: LlamaConfig): void {
  const sizes: (keyof LlamaConfig)[] = [
    'vocabSize',
    'hiddenSize',
    'intermediateSize',
    'numLayers',
    'numHeads',
    'numKeyValueHeads',
    'headDim',
    'maxPositionEmbeddings',
  ]
  for (const field of sizes) {
    const value = config[field]
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new TillerError(
        'invalid-argument',
        `LlamaConfig.${field} must be a positive integer (got ${value}).`,
        {
          subject: field,
        },
      )
    }
  }
  if (config.numHeads % config.numKeyValueHeads !== 0) {
    throw new TillerError(
      'invalid-argument',
      `LlamaConfig.numHeads (${config.numHeads}) must be a multiple of numKeyValueHeads (${config.numKeyValueHeads}).`,
      { subject: 'numKeyValueHeads' },
    )
  }
  if (config.headDim % 2 !== 0) {
    throw new TillerError(
      'invalid-argument',
      `LlamaConfig.headDim (${config.headDim}) must be even for RoPE.`,
      {
        subject: 'headDim',
      },
    )
  }
}

/**
 * A float32 checkpoint with every weight `expectedWeightShapes(config)` lists, drawn deterministically from
 * `seed` (see the file comment for the scales). Throws TillerError('invalid-argument') for impossible configs.
 */
export function randomCheckpoint(config: LlamaConfig, seed: number): LlamaCheckpoint {
  checkConfig(config)
  const weights = new Map<string, WeightTensor>()
  for (const [name, shape] of expectedWeightShapes(config)) {
    const { mean, std } = initialization(name, shape, config)
    const sample = normalSource(tensorSeed(seed, name))
    const data = new Float32Array(shape.reduce((product, dim) => product * dim, 1))
    for (let index = 0; index < data.length; index++) data[index] = mean + std * sample()
    weights.set(name, { dtype: 'float32', shape: [...shape], data })
  }
  return { config: { ...config }, weights }
}
