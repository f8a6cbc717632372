/**
 * The manifest of an edit file (DESIGN.md §4): everything about an edit except its tensors, stored as a JSON string
 * in the safetensors `__metadata__.manifest`. The zod schema here is what reading validates against.
 */
import { z } from 'zod'
import { hookSites, methodIds, spectralMerges, type HookSite } from '../../../shared/edit.ts'

/** Stored in `__metadata__.format`. */
export const editFileFormat = 'tiller-edit'

/** How layer indices are counted, written into every manifest. */
export const layerConvention =
  '0-based decoder block; resid_post[l] = HF hidden_states[l+1] (block output before any final norm) = llama.cpp direction.l'

/** What each hook site means (DESIGN.md §3). */
export const siteSemantics: Record<HookSite, string> = {
  resid_pre: 'residual stream entering block l (HF hidden_states[l])',
  attn_heads: 'concatenated attention head outputs before o_proj, [heads*head_dim]',
  attn_out: 'attention sub-layer output after o_proj, before the residual add',
  mlp_gate: 'gated MLP non-linearity output act(gate_proj x), before the product with up_proj x',
  mlp_act: 'input of down_proj (SwiGLU: act(gate) * up)',
  mlp_out: 'MLP sub-layer output after down_proj, before the residual add',
  resid_post: 'residual stream leaving block l (HF hidden_states[l+1], before any final norm)',
}

/** Sites whose width is the model's hidden size. */
export const residualWidthSites: ReadonlySet<HookSite> = new Set([
  'resid_pre',
  'attn_out',
  'mlp_out',
  'resid_post',
])

const positionPolicySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('all') }),
  z.object({ kind: z.literal('prompt') }),
  z.object({ kind: z.literal('generated') }),
  z.object({ kind: z.literal('promptPrefix'), count: z.number().int().min(1) }),
  z.object({ kind: z.literal('fromAssistantStart') }),
  z.object({ kind: z.literal('lastPromptToken') }),
  z.object({ kind: z.literal('lastPromptAndGenerated') }),
])

/** An op without its tensors: the kind and its scalar fields. */
const opScalarsSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('add') }),
  z.object({ kind: z.literal('addAt'), count: z.number().int().min(1) }),
  z.object({ kind: z.literal('project'), rank: z.number().int().min(1), mode: z.enum(['keep', 'remove']) }),
  z.object({ kind: z.literal('scale') }),
  z.object({ kind: z.literal('patch') }),
  z.object({
    kind: z.literal('spectral'),
    keepRank: z.number().int().min(0),
    removeRank: z.number().int().min(0),
    merge: z.enum(spectralMerges),
    phi: z.enum(['identity', 'squared-exponential', 'tanh', 'elu']),
    phiMode: z.enum(['paper', 'code']),
  }),
  z.object({ kind: z.literal('householder'), angleWidths: z.array(z.number().int().min(1)).min(2) }),
])
/** An op's kind and scalar fields, as the manifest stores them. */
export type OpScalars = z.infer<typeof opScalarsSchema>

const fingerprintSchema = z.object({
  architecture: z.string(),
  layers: z.number().int().min(1),
  hiddenSize: z.number().int().min(1),
  tokenizerHash: z.string(),
  weightsHash: z.string(),
})

const interventionSchema = z.object({
  layer: z.number().int().min(0),
  site: z.enum(hookSites),
  positions: positionPolicySchema,
  op: opScalarsSchema,
  /** Op field (`vector`, `basis`, `angle.<key>` …) → tensor name and row-major shape. */
  tensors: z.record(z.string(), z.object({ name: z.string(), shape: z.array(z.number().int().min(0)) })),
})
/** One intervention in the manifest: placement, op scalars and the names of its tensors. */
export type ManifestIntervention = z.infer<typeof interventionSchema>

/** How the demonstrations were rendered at fit time (mirrors `RenderFormat`). */
const renderFormatSchema = z.union([
  z.object({ kind: z.literal('chat-template'), template: z.string(), systemPrompt: z.string().optional() }),
  z.object({ kind: z.literal('plain'), prompt: z.string(), completionPrefix: z.string() }),
  z.object({ kind: z.literal('raw') }),
])

/** The manifest's schema (`__metadata__.manifest`, JSON). */
export const editManifestSchema = z.object({
  format: z.literal(editFileFormat),
  version: z.literal(1),
  id: z.string(),
  method: z.enum(methodIds),
  options: z.record(z.string(), z.unknown()),
  model: fingerprintSchema,
  created: z.string(),
  notes: z.string(),
  layerConvention: z.string(),
  sites: z.record(z.string(), z.string()),
  strength: z.object({
    semantics: z.string(),
    default: z.number(),
    testedRange: z.tuple([z.number(), z.number()]),
  }),
  interventions: z.array(interventionSchema),
  chatTemplate: renderFormatSchema.nullable(),
  dataset: z.object({ hash: z.string(), size: z.number().int().min(0) }).nullable(),
  evaluation: z.record(z.string(), z.unknown()).nullable(),
  toolVersion: z.string(),
})
/** A parsed manifest. */
export type EditManifest = z.infer<typeof editManifestSchema>
