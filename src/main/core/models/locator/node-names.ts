/**
 * Node-name normalization for the locator (RUNTIME-NOTES §2.4, §2.6). Quantizers rename the nodes they replace:
 * `…/down_proj/MatMul_Q4`, `…/down_proj/MatMulNBits`, `…/down_proj/MatMul_quant`. Matching works on names with
 * those suffixes stripped; tensor names are never relied on.
 */

/** Op types that implement a linear projection, quantized or not. */
export const linearOps = new Set([
  'MatMul',
  'Gemm',
  'MatMulNBits',
  'MatMulInteger',
  'DynamicQuantizeMatMul',
  'MatMulBnb4',
  'QLinearMatMul',
])

/** Fused residual-add + norm ops (builder family) whose output 3 is input + skip. */
export const fusedResidualOps = new Set(['SkipSimplifiedLayerNormalization', 'SkipLayerNormalization'])

/**
 * Ops a sub-layer output may pass through between its projection and the residual join: dtype casts, bias and
 * scale arithmetic of quantized MatMuls, reshapes.
 */
export const passThroughOps = new Set(['Cast', 'Mul', 'Add', 'Identity', 'Reshape', 'Squeeze', 'Unsqueeze'])

/** A node name without quantizer suffixes: `_Q4`/`_Q8`, `_quant`, and `MatMulNBits` → `MatMul`. */
export function normalizeNodeName(name: string): string {
  let normalized = name
  for (let pass = 0; pass < 3; pass++) {
    normalized = normalized
      .replace(/_Q\d+$/, '')
      .replace(/_quant(ized)?$/, '')
      .replace(/MatMul(NBits|Integer)$/, 'MatMul')
  }
  return normalized
}

const attentionProjection =
  /(?:^|\/)(?:layers|h|blocks)\.(\d+)\/(?:self_attn|attn|attention)\/(?:o_proj|c_proj|dense|out_proj)\/[A-Za-z]+$/
const mlpProjection =
  /(?:^|\/)(?:layers|h|blocks)\.(\d+)\/(?:mlp|feed_forward)\/(?:down_proj|c_proj|fc2|dense_4h_to_h)\/[A-Za-z]+$/

/** Which projection a (normalized) node name is: the attention output or the MLP down projection, with its layer. */
export function projectionRole(name: string): { role: 'attention' | 'mlp'; layer: number } | undefined {
  const normalized = normalizeNodeName(name)
  const attention = attentionProjection.exec(normalized)
  if (attention?.[1] !== undefined) return { role: 'attention', layer: Number(attention[1]) }
  const mlp = mlpProjection.exec(normalized)
  if (mlp?.[1] !== undefined) return { role: 'mlp', layer: Number(mlp[1]) }
  return undefined
}
