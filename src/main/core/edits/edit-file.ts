/**
 * Edit files (DESIGN.md §4): one `.safetensors` holding an edit's tensors, named `layers.{l}.{site}.{op}.{field}`
 * (with an intervention index `layers.{l}.{site}.{k}.{op}.{field}` when several interventions share a layer and
 * site), and `__metadata__` = { format: "tiller-edit", version, manifest (JSON) }.
 *
 * Reading validates the container (see safetensors.ts), the manifest schema, that every tensor is referenced
 * exactly once with the shape the manifest gives, that widths agree with the model's hidden size, and — when a
 * fingerprint is given — that the edit was fitted on that model. Round trips are bit-exact.
 */
import { readFileSync } from 'node:fs'
import type { Edit, Intervention, ModelFingerprint, Op } from '../../../shared/edit.ts'
import { editFormatVersion } from '../../../shared/edit.ts'
import type { RenderFormat } from '../data/render.ts'
import { TillerError } from '../errors.ts'
import { methods, type AnyMethod } from '../methods/index.ts'
import {
  editFileFormat,
  editManifestSchema,
  layerConvention,
  residualWidthSites,
  siteSemantics,
  type EditManifest,
  type ManifestIntervention,
  type OpScalars,
} from './edit-manifest.ts'
import { readUserFile } from '../workspace/read-file.ts'
import { writeFileAtomic } from '../workspace/atomic-write.ts'
import { writeFailureReason } from '../workspace/write-failure.ts'
import { checkFingerprint } from './fingerprint.ts'
import { decodeSafetensors, encodeSafetensors, type F32Tensor } from './safetensors.ts'

/** What an edit file records besides the edit itself. */
export interface EditFileExtras {
  /** How the demonstrations were rendered at fit time. */
  chatTemplate?: RenderFormat
  dataset?: { hash: string; size: number }
  evaluation?: Record<string, unknown>
  /** Overrides the method's tested strength range. */
  strengthRange?: [number, number]
}

/** A read edit file. */
export interface EditFile {
  edit: Edit
  manifest: EditManifest
}

function readToolVersion(): string {
  try {
    const packageJson = JSON.parse(
      readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8'),
    ) as {
      version?: string
    }
    return `tiller ${packageJson.version ?? 'unknown'}`
  } catch {
    return 'tiller unknown'
  }
}

/** `tiller <package version>`, recorded in every manifest. */
export const toolVersion = readToolVersion()

const genericStrength: Record<Op['kind'], string> = {
  add: 'h + α·v',
  addAt: 'h + α·vectors[i] at the i-th prompt position, prefill only',
  project: 'h + α·(P(h) − h), P the projection',
  scale: 'h + α·(h ⊙ factors)',
  patch: 'at the last prompt token, h ← c + α·(c ⊙ factors), c its clean value; α = 0 leaves h as it is',
  spectral: 'h + α·(SEA(h) − h)',
  householder: 'α scales the rotation angle; norms stay exact',
}

function strengthOf(edit: Edit, range: [number, number] | undefined): EditManifest['strength'] {
  const method = (methods as Partial<Record<string, AnyMethod>>)[edit.method]
  if (method !== undefined) {
    return {
      semantics: method.strength.description,
      default: method.strength.default,
      testedRange: range ?? method.strength.testedRange,
    }
  }
  const kinds = [...new Set(edit.interventions.map((intervention) => intervention.op.kind))]
  return {
    semantics: kinds.map((kind) => `${kind}: ${genericStrength[kind]}`).join('; '),
    default: 1,
    testedRange: range ?? [0, 1],
  }
}

/** Split an op into scalars (manifest) and tensors (file). Widths come from the data. */
function splitOp(op: Op): { scalars: OpScalars; tensors: Record<string, F32Tensor> } {
  const rows = (data: Float32Array, count: number, width: number): F32Tensor => ({
    shape: [count, width],
    data,
  })
  switch (op.kind) {
    case 'add':
      return { scalars: { kind: 'add' }, tensors: { vector: { shape: [op.vector.length], data: op.vector } } }
    case 'addAt':
      return {
        scalars: { kind: 'addAt', count: op.count },
        tensors: { vectors: rows(op.vectors, op.count, op.vectors.length / op.count) },
      }
    case 'project':
      return {
        scalars: { kind: 'project', rank: op.rank, mode: op.mode },
        tensors: { basis: rows(op.basis, op.rank, op.basis.length / op.rank) },
      }
    case 'scale':
    case 'patch':
      return {
        scalars: { kind: op.kind },
        tensors: { factors: { shape: [op.factors.length], data: op.factors } },
      }
    case 'spectral': {
      const width =
        op.keepRank > 0 ? op.keep.length / op.keepRank : op.remove.length / Math.max(1, op.removeRank)
      const { kind, keepRank, removeRank, merge, phi, phiMode } = op
      return {
        scalars: { kind, keepRank, removeRank, merge, phi, phiMode },
        tensors: { keep: rows(op.keep, keepRank, width), remove: rows(op.remove, removeRank, width) },
      }
    }
    case 'householder': {
      const tensors: Record<string, F32Tensor> = { probe: { shape: [op.probe.length], data: op.probe } }
      op.angleWeights.forEach((data, layer) => {
        const inputs = op.angleWidths[layer] as number
        const outputs = op.angleWidths[layer + 1] as number
        tensors[`angle.${layer}.weight`] = { shape: [outputs, inputs], data }
        tensors[`angle.${layer}.bias`] = { shape: [outputs], data: op.angleBiases[layer] as Float32Array }
      })
      return { scalars: { kind: 'householder', angleWidths: op.angleWidths }, tensors }
    }
  }
}

function tensorBase(edit: Edit, index: number): string {
  const intervention = edit.interventions[index] as Intervention
  const same = edit.interventions.filter(
    (other) => other.layer === intervention.layer && other.site === intervention.site,
  )
  const ordinal = edit.interventions
    .slice(0, index)
    .filter((other) => other.layer === intervention.layer && other.site === intervention.site).length
  const base = `layers.${intervention.layer}.${intervention.site}`
  return same.length > 1 ? `${base}.${ordinal}` : base
}

/**
 * Serialize an edit to safetensors bytes.
 * @returns byte chunks, written in order
 */
export function encodeEditFile(edit: Edit, extras: EditFileExtras = {}): Uint8Array[] {
  const tensors = new Map<string, F32Tensor>()
  const interventions: ManifestIntervention[] = edit.interventions.map((intervention, index) => {
    const { scalars, tensors: opTensors } = splitOp(intervention.op)
    const base = tensorBase(edit, index)
    const references: ManifestIntervention['tensors'] = {}
    for (const [field, tensor] of Object.entries(opTensors)) {
      const name = `${base}.${intervention.op.kind}.${field}`
      tensors.set(name, tensor)
      references[field] = { name, shape: tensor.shape }
    }
    return {
      layer: intervention.layer,
      site: intervention.site,
      positions: intervention.positions,
      op: scalars,
      tensors: references,
    }
  })
  const usedSites = [...new Set(edit.interventions.map((intervention) => intervention.site))]
  const manifest: EditManifest = {
    format: editFileFormat,
    version: editFormatVersion,
    id: edit.id,
    method: edit.method,
    options: edit.options,
    model: edit.model,
    created: edit.created,
    notes: edit.notes,
    layerConvention,
    sites: Object.fromEntries(usedSites.map((site) => [site, siteSemantics[site]])),
    strength: strengthOf(edit, extras.strengthRange),
    interventions,
    chatTemplate: extras.chatTemplate ?? null,
    dataset: extras.dataset ?? null,
    evaluation: extras.evaluation ?? null,
    toolVersion,
  }
  const metadata = {
    format: editFileFormat,
    version: String(editFormatVersion),
    manifest: JSON.stringify(manifest),
  }
  return encodeSafetensors(tensors, metadata)
}

function invalid(source: string, problem: string): TillerError {
  return new TillerError('file-corrupt', `${source} is not a valid Tiller edit file: ${problem}.`, {
    subject: source,
  })
}

function parseManifest(metadata: Record<string, string>, source: string): EditManifest {
  if (metadata.format !== editFileFormat) {
    throw invalid(
      source,
      `__metadata__.format is ${JSON.stringify(metadata.format)}, expected "${editFileFormat}"`,
    )
  }
  if (metadata.version !== String(editFormatVersion)) {
    throw new TillerError(
      'file-corrupt',
      `${source} is edit format version ${String(metadata.version)}; this Tiller reads version ${editFormatVersion}.`,
      { subject: source },
    )
  }
  let json: unknown
  try {
    json = JSON.parse(metadata.manifest ?? '')
  } catch {
    throw invalid(source, '__metadata__.manifest is missing or not JSON')
  }
  const parsed = editManifestSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw invalid(source, `manifest field "${issue?.path.join('.') ?? ''}" ${issue?.message ?? 'is invalid'}`)
  }
  return parsed.data
}

/** Rebuild one intervention's op from its scalars and tensors, checking shapes against the model. */
function rebuildOp(
  entry: ManifestIntervention,
  take: (field: string, rows: number | undefined) => F32Tensor,
): Op {
  const op = entry.op
  switch (op.kind) {
    case 'add':
      return { kind: 'add', vector: take('vector', undefined).data }
    case 'addAt':
      return { kind: 'addAt', count: op.count, vectors: take('vectors', op.count).data }
    case 'project':
      return { kind: 'project', rank: op.rank, mode: op.mode, basis: take('basis', op.rank).data }
    case 'scale':
      return { kind: 'scale', factors: take('factors', undefined).data }
    case 'patch':
      return { kind: 'patch', factors: take('factors', undefined).data }
    case 'spectral':
      return {
        ...op,
        keep: take('keep', op.keepRank).data,
        remove: take('remove', op.removeRank).data,
      }
    case 'householder': {
      const probe = take('probe', undefined).data
      const angleWeights: Float32Array[] = []
      const angleBiases: Float32Array[] = []
      for (let layer = 0; layer + 1 < op.angleWidths.length; layer++) {
        const inputs = op.angleWidths[layer] as number
        const outputs = op.angleWidths[layer + 1] as number
        const weight = take(`angle.${layer}.weight`, -1)
        const bias = take(`angle.${layer}.bias`, -1)
        if (weight.shape.join(',') !== `${outputs},${inputs}` || bias.shape.join(',') !== `${outputs}`) {
          throw new TillerError(
            'shape-mismatch',
            `angle network layer ${layer} is [${weight.shape.join(', ')}] + [${bias.shape.join(', ')}]; ` +
              `angleWidths say [${outputs}, ${inputs}] + [${outputs}].`,
            { subject: `angle.${layer}` },
          )
        }
        angleWeights.push(weight.data)
        angleBiases.push(bias.data)
      }
      if (op.angleWidths[0] !== probe.length) {
        throw new TillerError(
          'shape-mismatch',
          `the angle network reads ${op.angleWidths[0]} values; the probe has ${probe.length}.`,
          { subject: 'angleWidths' },
        )
      }
      return { kind: 'householder', probe, angleWidths: op.angleWidths, angleWeights, angleBiases }
    }
  }
}

/**
 * Decode and validate edit-file bytes. With `expected`, refuses a file fitted for another model
 * (`model-mismatch`, naming the differing fingerprint field).
 */
export function decodeEditFile(bytes: Uint8Array, source: string, expected?: ModelFingerprint): EditFile {
  const { metadata, tensors } = decodeSafetensors(bytes, source)
  const manifest = parseManifest(metadata, source)
  if (expected !== undefined) checkFingerprint(expected, manifest.model, source)
  const unused = new Set(tensors.keys())
  const interventions = manifest.interventions.map((entry, index): Intervention => {
    const where = `intervention ${index} (layer ${entry.layer}, ${entry.site})`
    if (entry.layer >= manifest.model.layers) {
      throw invalid(source, `${where}: the model has blocks 0…${manifest.model.layers - 1}`)
    }
    let width: number | undefined = residualWidthSites.has(entry.site) ? manifest.model.hiddenSize : undefined
    const consumed = new Set<string>()
    // rows: undefined = a [width] vector; -1 = a free 1-D tensor (HPR angle weights); n = an [n, width] matrix.
    const take = (field: string, rows: number | undefined): F32Tensor => {
      const reference = entry.tensors[field]
      if (reference === undefined) throw invalid(source, `${where}: no tensor for "${field}"`)
      consumed.add(field)
      const tensor = tensors.get(reference.name)
      if (tensor === undefined) throw invalid(source, `${where}: tensor ${reference.name} is missing`)
      if (!unused.delete(reference.name))
        throw invalid(source, `tensor ${reference.name} is referenced twice`)
      const shape = tensor.shape
      if (shape.join(',') !== reference.shape.join(',')) {
        throw invalid(
          source,
          `tensor ${reference.name} is [${shape.join(', ')}], the manifest says [${reference.shape.join(', ')}]`,
        )
      }
      if (rows === -1) return tensor
      const expectedRank = rows === undefined ? 1 : 2
      const tensorWidth = shape[shape.length - 1]
      const widthMismatch = width !== undefined && tensorWidth !== width
      if (shape.length !== expectedRank || (rows !== undefined && shape[0] !== rows) || widthMismatch) {
        throw new TillerError(
          'shape-mismatch',
          `${source}: tensor ${reference.name} is [${shape.join(', ')}], expected ` +
            `[${rows === undefined ? '' : `${rows}, `}${width ?? 'width'}] for ${where}.`,
          { subject: reference.name },
        )
      }
      width = tensorWidth
      return tensor
    }
    const op = rebuildOp(entry, take)
    const extra = Object.keys(entry.tensors).filter((field) => !consumed.has(field))
    if (extra.length > 0) throw invalid(source, `${where}: unexpected tensor field(s) ${extra.join(', ')}`)
    return { layer: entry.layer, site: entry.site, positions: entry.positions, op }
  })
  if (unused.size > 0)
    throw invalid(source, `tensor(s) ${[...unused].join(', ')} are not referenced by the manifest`)
  const edit: Edit = {
    version: editFormatVersion,
    id: manifest.id,
    method: manifest.method,
    options: manifest.options,
    model: manifest.model,
    interventions,
    created: manifest.created,
    notes: manifest.notes,
  }
  return { edit, manifest }
}

/** Write `edit` to `path` atomically as a Tiller edit file; an unwritable path gives a TillerError naming it. */
export async function writeEditFile(path: string, edit: Edit, extras: EditFileExtras = {}): Promise<void> {
  const bytes = encodeEditFile(edit, extras)
  try {
    await writeFileAtomic(path, bytes)
  } catch (error) {
    throw new TillerError('invalid-argument', `Cannot write ${path}: ${writeFailureReason(path, error)}.`, {
      subject: path,
      cause: error,
    })
  }
}

/** Read and validate an edit file; with `expected`, also check it was fitted on that model. */
export async function readEditFile(path: string, expected?: ModelFingerprint): Promise<EditFile> {
  return decodeEditFile(await readUserFile(path, 'the edit file'), path, expected)
}
