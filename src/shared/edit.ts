/**
 * Edits: plain, versioned data describing interventions on a decoder's hook sites (DESIGN.md §4).
 *
 * Layer indices are 0-based decoder blocks. Vectors live in the site's own space: `width` is the hidden size for
 * residual and sub-layer outputs, heads × headDim for `attn_heads`, the intermediate size for `mlp_gate` and
 * `mlp_act`.
 * No class instances: an Edit survives JSON (with Float32Array restored) and structured clone unchanged.
 */

/**
 * The seven hook sites of every decoder block (DESIGN.md §3, METHODS.md §0.1), in topological order. `mlp_gate` is
 * the gated MLP's non-linearity output act(gate_proj x) before the product with up_proj x; `mlp_act` is that
 * product, the input of down_proj.
 */
export const hookSites = [
  'resid_pre',
  'attn_heads',
  'attn_out',
  'mlp_gate',
  'mlp_act',
  'mlp_out',
  'resid_post',
] as const
export type HookSite = (typeof hookSites)[number]

/** Which token positions an intervention touches; the runtime turns this into `tiller_edit_mask [batch, seq]`. */
export type PositionPolicy =
  | { kind: 'all' }
  | { kind: 'prompt' }
  | { kind: 'generated' }
  | { kind: 'promptPrefix'; count: number }
  | { kind: 'fromAssistantStart' }
  | { kind: 'lastPromptToken' }
  /** The last prompt token and every generated token: "the last position of each forward call" (ITI, HPR). */
  | { kind: 'lastPromptAndGenerated' }

/**
 * What an intervention does to the site activation h [width] at a masked position, with strength α:
 *   add        h + α·v
 *   addAt      h + α·vectors[i] at the i-th prompt position (front-aligned, prefill only)
 *   project    keep:   h + α·(B̂ᵀB̂h − h);   remove: h − α·B̂ᵀB̂h      (basis rows orthonormal)
 *   scale      h + α·(h ⊙ factors)                                      (SADI's h·(1 + δ m))
 *   patch      c + α·(c ⊙ factors), c the site's clean value at the position from a strength-0 pass over the
 *              same prefix (runtime input), replacing h entirely; α = 0 leaves h untouched (SADI's patch mode)
 *   spectral   h + α·(SEA(h) − h), SEA(h) = merge(φ⁻¹(P⁺φ(h)), φ⁻¹(P⁻φ(h))) with P⁺ = U⁺U⁺ᵀ, P⁻ = I − U⁻U⁻ᵀ
 *   householder HPR: probe-negative tokens rotate toward their reflection by α·γ₁ (norm kept exactly)
 */
/** How SEA's kept and removed projections combine (the `spectral` op's `merge`). */
export const spectralMerges = ['norm', 'feature-norm', 'average', 'sum'] as const
export type SpectralMerge = (typeof spectralMerges)[number]

export type Op =
  | { kind: 'add'; vector: Float32Array /* [width] */ }
  | { kind: 'addAt'; vectors: Float32Array /* [count, width] row-major */; count: number }
  | {
      kind: 'project'
      basis: Float32Array /* [rank, width] orthonormal rows */
      rank: number
      mode: 'keep' | 'remove'
    }
  | { kind: 'scale'; factors: Float32Array /* [width] */ }
  /** Only with `lastPromptToken`: the runtime records the clean value there before the steered pass. */
  | { kind: 'patch'; factors: Float32Array /* [width] */ }
  | {
      kind: 'spectral'
      /** U⁺'s top keepRank left singular vectors as orthonormal rows. */
      keep: Float32Array /* [keepRank, width] */
      keepRank: number
      /** U⁻'s top removeRank left singular vectors as orthonormal rows. */
      remove: Float32Array /* [removeRank, width] */
      removeRank: number
      /**
       * norm: (h⁺ + h⁻)·‖h‖/‖h⁺ + h⁻‖ per token; feature-norm: the released code's l2_norm, each feature of
       * y = h⁺ + h⁻ rescaled by ‖x_i‖/‖y_i‖ over the positions the edit acts on in one forward pass of a row (so
       * a decode step's single token gets sign(y_i)·|h_i|); average: (h⁺ + h⁻)/2; sum: h⁺ + h⁻ (METHODS.md §1.5).
       */
      merge: SpectralMerge
      /** Φ-SEA's elementwise feature map (METHODS.md §1.8); identity is linear SEA. */
      phi: 'identity' | 'squared-exponential' | 'tanh' | 'elu'
      /** paper: φ⁻¹(P φ(h)); code: φ⁻¹(P h), the released inference's behaviour (reproduction only). */
      phiMode: 'paper' | 'code'
    }
  | {
      kind: 'householder'
      /** The probe θ: tokens with θᵀh > 0 are positive and left unchanged. */
      probe: Float32Array /* [width] */
      /** Widths of the angle network's layers, input first: [width, …, 1]. */
      angleWidths: number[]
      /** Linear layer i's weight, [angleWidths[i + 1], angleWidths[i]] row-major; GELU between layers. */
      angleWeights: Float32Array[]
      /** Linear layer i's bias, [angleWidths[i + 1]]. */
      angleBiases: Float32Array[]
    }

export type OpKind = Op['kind']

export interface Intervention {
  layer: number
  site: HookSite
  positions: PositionPolicy
  op: Op
}

/** Identifies the model an edit was fitted on; loading an edit checks every field and names the one that differs. */
export interface ModelFingerprint {
  architecture: string
  layers: number
  hiddenSize: number
  /** sha256 of tokenizer.json, hex. */
  tokenizerHash: string
  /**
   * sha256, hex, of the model's weights: the value Tiller's exporter records in config.json (over the weights
   * themselves, the same for every graph family), or of the external data file for other folders.
   */
  weightsHash: string
}

export const methodIds = [
  'actadd',
  'caa',
  'mean-diff',
  'pca-diff',
  'pca-center',
  'ablation',
  'iti',
  'sadi',
  'sea',
  'phi-sea',
  'hpr',
] as const
export type MethodId = (typeof methodIds)[number]

export const editFormatVersion = 1

export interface Edit {
  version: typeof editFormatVersion
  id: string
  method: MethodId
  /** The method's options as fitted (already merged with defaults). */
  options: Record<string, unknown>
  model: ModelFingerprint
  interventions: Intervention[]
  /** ISO 8601. */
  created: string
  notes: string
}
