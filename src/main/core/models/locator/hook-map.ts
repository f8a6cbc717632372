import type { HookSite } from '../../../../shared/edit.ts'

/**
 * Where each hook site of each decoder block lives in a graph (DESIGN.md §3).
 *
 * Two kinds of location exist:
 *   tensor         a plain tensor; capture exposes it, an edit rewires its consumers to the edited tensor.
 *   fusedResidual  a residual sum computed inside a fused `Skip*LayerNormalization` node (builder family):
 *                  input + skip = output 3. Capture reads output 3 (named on demand); an edit adds its delta to
 *                  the skip input, which changes output 3 and the normalized output 0 together and keeps the
 *                  fused kernel (strength 0 adds exactly 0, so the base numerics are untouched).
 */
export type SiteLocation =
  | { kind: 'tensor'; tensor: string }
  | { kind: 'fusedResidual'; node: string; rootInput: number; skipInput: number }

/** The seven sites of one decoder block. */
export type LayerSites = Record<HookSite, SiteLocation>

/** Widths of each site's last dimension, as measured by the validation pass. */
export type SiteWidths = Record<HookSite, number>

/** The located and validated hook sites of one graph file. */
export interface HookMap {
  /** 2 since `mlp_gate` exists: maps cached by version 1 lack it and are recomputed. */
  version: 2
  /** sha256 of the graph file (the `.onnx` without external data), hex. */
  graphHash: string
  family: 'builder' | 'optimum'
  /** Element type of activations in the graph (float16 graphs compute in float16). */
  activationType: 'float32' | 'float16'
  /** Per decoder block, 0-based. */
  layers: LayerSites[]
  widths: SiteWidths
}

/** The graph output name under which a hooked graph exposes a site, always as float32 `[batch, seq, width]`. */
export function hookOutputName(site: HookSite, layer: number): string {
  return `hook.${site}.${layer}`
}

/** A site of one block, as the locator, capture and compiler address it. */
export interface SiteAddress {
  layer: number
  site: HookSite
}

/**
 * Two sites that denote the same tensor: `resid_pre[l]` is `resid_post[l - 1]` for l ≥ 1. Edits at either
 * land on one physical location; this gives that location a canonical address.
 */
export function canonicalSite(address: SiteAddress): SiteAddress {
  return address.site === 'resid_pre' && address.layer > 0
    ? { layer: address.layer - 1, site: 'resid_post' }
    : address
}
