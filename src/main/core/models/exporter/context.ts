import type { GraphBuilder } from '../../onnx/builder.ts'
import type { LlamaConfig } from '../checkpoint.ts'
import type { Constants } from './constants.ts'
import type { DecoderInputs } from './decoder-io.ts'
import type { FloatType, WeightStore } from './weights.ts'

/** Everything a graph family needs to emit its decoder layers into a graph whose I/O is already declared. */
export interface DecoderContext {
  graph: GraphBuilder
  config: LlamaConfig
  weights: WeightStore
  constants: Constants
  inputs: DecoderInputs
  floatType: FloatType
  /**
   * `[batch, 1, sequence, total]` additive attention bias (attention-bias.ts), only its padding part when
   * `causalInAttention`.
   */
  attentionBias: string
  /** The attention op applies the causal mask itself (ONNX Attention's `is_causal`); the bias holds padding only. */
  causalInAttention?: boolean
  /** The sliding layers' bias when the config mixes sliding and global layers (slidingWindowPattern). */
  localAttentionBias?: string
}
