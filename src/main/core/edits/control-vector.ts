/**
 * llama.cpp control vectors (ECOSYSTEM.md §3.2): GGUF files holding only `direction.{k}` tensors, 1-D F32 of
 * n_embd, k ≥ 1, where llama.cpp adds `direction.k` to the output of 0-based block k at every position — Tiller's
 * `add` at `resid_post[k]` with position policy `all`. Anything else cannot be represented and is refused with the
 * reason. Metadata: `general.architecture = "controlvector"`, `controlvector.model_hint`,
 * `controlvector.layer_count` (u32), plus `tiller.*` keys (ignored by llama.cpp) that carry the edit's identity so
 * an exported file imports back to the same edit.
 */
import { open } from 'node:fs/promises'
import { GGMLQuantizationType } from '@huggingface/gguf'
import type { Edit, Intervention, MethodId, ModelFingerprint } from '../../../shared/edit.ts'
import { editFormatVersion, methodIds } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'
import { writeGgufFile, type GgufMetadataValue } from '../gguf/writer.ts'
import { writeFailureReason } from '../workspace/write-failure.ts'
import { checkFingerprint } from './fingerprint.ts'
import { readGgufFile, type GgufFile } from '../models/importers/gguf/gguf-file.ts'

/** Options of {@link exportControlVector}. */
export interface ControlVectorExportOptions {
  /** `controlvector.model_hint`; default the edit's model architecture (HF model_type, as repeng writes). */
  modelHint?: string
}

/** Options of {@link importControlVector}. */
export interface ControlVectorImportOptions {
  /** The model the vector is meant for: checks n_embd and the model hint, and becomes the edit's fingerprint. */
  model?: ModelFingerprint
}

const architecture = 'controlvector'
const directionPattern = /^direction\.(\d+)$/

function unrepresentable(index: number, intervention: Intervention, reason: string): TillerError {
  return new TillerError(
    'unrepresentable-edit',
    `Intervention ${index} (layer ${intervention.layer}, ${intervention.site}, ${intervention.op.kind}) cannot be ` +
      `written as a llama.cpp control vector: ${reason}.`,
    { subject: `interventions[${index}]` },
  )
}

/** Per-layer vectors `[width]`, duplicate layers summed in float32 in edit order (as llama.cpp sums them). */
function directions(edit: Edit): Map<number, Float32Array> {
  if (edit.interventions.length === 0) {
    throw new TillerError('unrepresentable-edit', 'The edit has no interventions to export.')
  }
  const byLayer = new Map<number, Float32Array>()
  edit.interventions.forEach((intervention, index) => {
    const { op, site, positions, layer } = intervention
    if (op.kind === 'patch')
      throw unrepresentable(
        index,
        intervention,
        'SADI mode=patch needs a clean pass before each prompt; steer it in Tiller (compare, generate, evaluate)',
      )
    if (op.kind !== 'add')
      throw unrepresentable(index, intervention, `llama.cpp only adds vectors, this is ${op.kind}`)
    if (site !== 'resid_post') {
      throw unrepresentable(index, intervention, 'llama.cpp adds at the block output (resid_post) only')
    }
    if (positions.kind !== 'all') {
      throw unrepresentable(
        index,
        intervention,
        `llama.cpp adds at every position, this edit applies "${positions.kind}"`,
      )
    }
    if (layer < 1) {
      throw unrepresentable(
        index,
        intervention,
        'llama.cpp never steers block 0 (direction.0 makes it skip the file)',
      )
    }
    if (op.vector.length !== edit.model.hiddenSize) {
      throw unrepresentable(
        index,
        intervention,
        `the vector has ${op.vector.length} values but the model's hidden size is ${edit.model.hiddenSize}`,
      )
    }
    const notFinite = op.vector.findIndex((value) => !Number.isFinite(value))
    if (notFinite >= 0) {
      throw unrepresentable(
        index,
        intervention,
        `value ${notFinite} of its vector is ${op.vector[notFinite]}; llama.cpp would add it to every activation. ` +
          'Fit the edit again',
      )
    }
    const existing = byLayer.get(layer)
    if (existing === undefined) {
      byLayer.set(layer, op.vector)
      return
    }
    const summed = new Float32Array(existing.length)
    for (let column = 0; column < summed.length; column++) {
      summed[column] = (existing[column] as number) + (op.vector[column] as number)
    }
    byLayer.set(layer, summed)
  })
  return new Map([...byLayer].sort((a, b) => a[0] - b[0]))
}

/** Why `edit` cannot be written as a control vector (the refusal `exportControlVector` would give), or null. */
export function controlVectorProblem(edit: Edit): string | null {
  try {
    directions(edit)
    return null
  } catch (error) {
    if (error instanceof TillerError) return error.message
    throw error
  }
}

/**
 * Write an additive `resid_post` edit as a llama.cpp control-vector GGUF (atomically). Refuses, naming the
 * intervention and the reason, any op other than `add`, another site, a position policy other than `all`, layer 0,
 * a vector of the wrong width or with NaN or infinite values. An unwritable path is a TillerError naming it.
 */
export async function exportControlVector(
  edit: Edit,
  path: string,
  options: ControlVectorExportOptions = {},
): Promise<void> {
  const vectors = directions(edit)
  const metadata: [string, GgufMetadataValue][] = [
    ['general.architecture', { type: 'string', value: architecture }],
    ['controlvector.model_hint', { type: 'string', value: options.modelHint ?? edit.model.architecture }],
    ['controlvector.layer_count', { type: 'uint32', value: vectors.size }],
    ['tiller.edit_id', { type: 'string', value: edit.id }],
    ['tiller.method', { type: 'string', value: edit.method }],
    ['tiller.created', { type: 'string', value: edit.created }],
    ['tiller.options', { type: 'string', value: JSON.stringify(edit.options) }],
    ['tiller.model', { type: 'string', value: JSON.stringify(edit.model) }],
    ['tiller.notes', { type: 'string', value: edit.notes }],
    [
      'tiller.layer_convention',
      { type: 'string', value: 'direction.k is added to the output of 0-based block k' },
    ],
  ]
  const tensors = [...vectors].map(([layer, data]) => ({
    name: `direction.${layer}`,
    type: GGMLQuantizationType.F32,
    shape: [data.length],
    data,
  }))
  try {
    await writeGgufFile(path, { metadata, tensors })
  } catch (error) {
    const reason = writeFailureReason(path, error)
    throw new TillerError('invalid-argument', `Cannot write the control vector ${path}: ${reason}.`, {
      subject: path,
      cause: error,
    })
  }
}

function invalid(path: string, problem: string, subject?: string): TillerError {
  return new TillerError('file-corrupt', `${path} is not a usable control vector: ${problem}.`, {
    subject: subject ?? path,
  })
}

function stringKey(file: GgufFile, key: string): string | undefined {
  const value = file.metadata.get(key)
  return typeof value === 'string' ? value : undefined
}

/** `controlvector.layer_count` must be a u32 (repeng, EasySteer) or an i32 (cvector-generator) when present. */
function checkLayerCount(file: GgufFile, prefix: string): void {
  const key = `${prefix}.layer_count`
  const entry = file.typedMetadata[key]
  if (entry === undefined) return
  const type = entry.type as number
  if (type !== 4 && type !== 5)
    throw invalid(file.path, `${key} has GGUF type ${type}, expected u32 or i32`, key)
}

function jsonKey(file: GgufFile, key: string): Record<string, unknown> | undefined {
  const text = stringKey(file, key)
  if (text === undefined) return undefined
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>
  } catch {
    // Falls through to the error below.
  }
  throw invalid(file.path, `${key} is not a JSON object`, key)
}

function storedFingerprint(file: GgufFile): ModelFingerprint | undefined {
  const value = jsonKey(file, 'tiller.model')
  if (value === undefined) return undefined
  const { architecture: name, layers, hiddenSize, tokenizerHash, weightsHash } = value
  const valid =
    typeof name === 'string' &&
    Number.isInteger(layers) &&
    Number.isInteger(hiddenSize) &&
    typeof tokenizerHash === 'string' &&
    typeof weightsHash === 'string'
  if (!valid) throw invalid(file.path, 'tiller.model is not a model fingerprint', 'tiller.model')
  return value as unknown as ModelFingerprint
}

async function readDirections(file: GgufFile): Promise<{ layer: number; vector: Float32Array }[]> {
  const entries = [...file.tensors.values()]
  if (entries.length === 0) throw invalid(file.path, 'it holds no direction tensors')
  let width: number | undefined
  const handle = await open(file.path, 'r')
  try {
    const result: { layer: number; vector: Float32Array }[] = []
    for (const tensor of entries) {
      const match = directionPattern.exec(tensor.name)
      if (match === null) {
        throw invalid(
          file.path,
          `tensor "${tensor.name}" is not named direction.<layer> (llama.cpp would skip the file)`,
          tensor.name,
        )
      }
      const layer = Number(match[1])
      if (layer === 0)
        throw invalid(file.path, 'direction.0 is not allowed (llama.cpp would skip the file)', tensor.name)
      if (tensor.type !== GGMLQuantizationType.F32 || tensor.shape.length !== 1) {
        throw invalid(
          file.path,
          `tensor "${tensor.name}" must be 1-D F32 (llama.cpp refuses other types)`,
          tensor.name,
        )
      }
      const length = tensor.shape[0] as number
      if (width !== undefined && length !== width) {
        throw invalid(
          file.path,
          `tensor "${tensor.name}" has ${length} values, the others ${width}`,
          tensor.name,
        )
      }
      width = length
      const bytes = new Uint8Array(length * 4)
      await handle.read(bytes, 0, bytes.length, tensor.offset)
      result.push({ layer, vector: new Float32Array(bytes.buffer) })
    }
    return result.sort((a, b) => a.layer - b.layer)
  } finally {
    await handle.close()
  }
}

/**
 * Read a control-vector GGUF as an Edit: one `add` at `resid_post[k]`, position policy `all`, per `direction.k`.
 * Validates names, dtype, shape and a common n_embd; with `options.model`, also n_embd against the hidden size and
 * the model hint against the architecture (llama.cpp itself checks neither), and a fingerprint stored by Tiller's
 * export. Without it, the edit carries the stored fingerprint, or else what the file knows (hint, width) with empty
 * hashes.
 */
export async function importControlVector(
  path: string,
  options: ControlVectorImportOptions = {},
): Promise<Edit> {
  const file = await readGgufFile(path)
  const prefix = stringKey(file, 'general.architecture') ?? architecture
  checkLayerCount(file, prefix)
  const hint = stringKey(file, `${prefix}.model_hint`)
  const directionsRead = await readDirections(file)
  const width = directionsRead[0]?.vector.length ?? 0
  const model = options.model
  if (model !== undefined) {
    if (width !== model.hiddenSize) {
      throw new TillerError(
        'model-mismatch',
        `${path} holds vectors of ${width} values but this model's hidden size is ${model.hiddenSize}.`,
        { subject: 'hiddenSize' },
      )
    }
    if (hint !== undefined && hint !== model.architecture) {
      throw new TillerError(
        'model-mismatch',
        `${path} was made for a "${hint}" model (controlvector.model_hint) but this model is "${model.architecture}".`,
        { subject: 'model_hint' },
      )
    }
    const beyond = directionsRead.find((direction) => direction.layer >= model.layers)
    if (beyond !== undefined) {
      throw new TillerError(
        'model-mismatch',
        `${path} steers block ${beyond.layer} but this model has blocks 0…${model.layers - 1}.`,
        { subject: 'layers' },
      )
    }
  }
  const storedMethod = stringKey(file, 'tiller.method')
  const method: MethodId = (methodIds as readonly string[]).includes(storedMethod ?? '')
    ? (storedMethod as MethodId)
    : 'pca-diff'
  const stored = storedFingerprint(file)
  if (model !== undefined && stored !== undefined) checkFingerprint(model, stored, path)
  const lastLayer = directionsRead[directionsRead.length - 1]?.layer ?? 0
  return {
    version: editFormatVersion,
    id: stringKey(file, 'tiller.edit_id') ?? `imported:${path}`,
    method,
    options: jsonKey(file, 'tiller.options') ?? { importedFrom: path, methodKnown: false },
    model: model ??
      stored ?? {
        architecture: hint ?? 'unknown',
        layers: lastLayer + 1,
        hiddenSize: width,
        tokenizerHash: '',
        weightsHash: '',
      },
    interventions: directionsRead.map(({ layer, vector }) => ({
      layer,
      site: 'resid_post',
      positions: { kind: 'all' },
      op: { kind: 'add', vector },
    })),
    created: stringKey(file, 'tiller.created') ?? new Date().toISOString(),
    notes:
      stringKey(file, 'tiller.notes') ??
      (storedMethod === undefined
        ? `Imported from the llama.cpp control vector ${path}; the fitting method is unknown (pca-diff assumed, ` +
          "the default of repeng and llama.cpp's cvector-generator)."
        : ''),
  }
}
