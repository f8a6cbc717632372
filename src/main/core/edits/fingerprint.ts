/**
 * Model fingerprints: what identifies the model an edit was fitted on (architecture, depth, width, tokenizer and
 * weights hashes), and the check that names the field that differs.
 *
 * The weights hash is the logical hash a Tiller export records in config.json (`tiller.weightsHash`: the
 * checkpoint's tensors, whatever the graph family or file layout), so builder and optimum exports of one
 * checkpoint share a fingerprint. Folders without one (foreign exports, older Tiller exports) are identified by
 * the sha256 of the decoder's weights file, remembered by (path, size, modification time) in the folder's cache
 * (`.tiller/weights-hash.json`, or Tiller's cache folder for read-only folders) so it is read once.
 *
 * Edits fitted before exports recorded a logical hash carry the weights file's hash. They are still accepted on
 * a folder whose weights file has that hash, or on any folder exporting the same logical weights as one.
 *
 * A folder with several graph variants (model.onnx, model_q4.onnx, …) is fingerprinted per variant: the variant a
 * model runs is the model an edit is fitted on. The recorded logical hash describes the graph Tiller exported
 * (`tiller.dtype`); any other variant is identified by its own weights file.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ModelFingerprint } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'
import { graphFilePath, recordedWeightsHash } from '../models/exporter/folder-files.ts'
import type { ExportDType } from '../models/exporter/weights.ts'
import { modelFiles } from '../models/graph-contract.ts'
import { resolveDecoderGraph } from '../runtime/graph-path.ts'
import { readModelConfig, type ModelConfig } from '../runtime/model-config.ts'
import { modelCacheFolder } from '../workspace/cache-folders.ts'
import { cachedFileHash, cachedFileHashSync } from '../workspace/file-hash-cache.ts'
import { hashFile } from '../workspace/file-hash.ts'

/** Fields compared, in the order a mismatch is reported. */
const fingerprintFields = ['architecture', 'layers', 'hiddenSize', 'tokenizerHash', 'weightsHash'] as const

/** The cache file of weights-file hashes, inside a model folder's cache folder. */
const weightsHashCacheFile = 'weights-hash.json'

/** Folders fingerprinted by a recorded logical hash, by that hash: where a legacy edit's hash may be checked. */
const foldersByRecordedHash = new Map<string, Set<string>>()

/**
 * The file holding the weights of `graph` (absolute): its external data file when there is one (`<graph>_data` or
 * `<graph>.data`), else the graph itself (weights stored inline).
 */
function weightsFileOf(graph: string): string {
  for (const data of [`${graph}_data`, `${graph}.data`]) if (existsSync(data)) return data
  return graph
}

/** The weights file of the folder's default decoder graph. */
function weightsFile(folder: string, config: ModelConfig): string {
  return weightsFileOf(resolveDecoderGraph(folder, config))
}

/** The graph (absolute) a Tiller export's record describes, or undefined for folders without a record. */
function recordedGraph(folder: string, config: ModelConfig): string | undefined {
  const section = config.raw['tiller']
  if (typeof section !== 'object' || section === null) return undefined
  const dtype = (section as Record<string, unknown>)['dtype']
  const exported: readonly string[] = ['float32', 'float16', 'q4', 'q8'] satisfies ExportDType[]
  return typeof dtype === 'string' && exported.includes(dtype)
    ? resolve(folder, graphFilePath(dtype as ExportDType))
    : undefined
}

function cacheFileOf(folder: string): string {
  return join(modelCacheFolder(folder), weightsHashCacheFile)
}

/** sha256 of the weights file of `graph` (absolute), remembered by (path, size, modification time). */
async function weightsFileHash(folder: string, graph: string): Promise<string> {
  return cachedFileHash(weightsFileOf(graph), cacheFileOf(folder))
}

/**
 * Whether `legacyHash` (an edit's weights hash from before logical hashes) is the weights-file hash of a folder
 * fingerprinted with the logical hash `recordedHash`. Reads such a folder's weights once (then remembered).
 */
function matchesLegacyHash(recordedHash: string, legacyHash: string): boolean {
  for (const folder of foldersByRecordedHash.get(recordedHash) ?? []) {
    try {
      const path = weightsFile(folder, readModelConfig(folder))
      if (cachedFileHashSync(path, cacheFileOf(folder)) === legacyHash) return true
    } catch {
      // A folder moved or deleted since it was fingerprinted no longer vouches for anything.
    }
  }
  return false
}

/**
 * The weights hash of variant `graph` (absolute) of `folder`: the recorded logical hash when `graph` is the one the
 * record describes (or the record names no graph), else the graph's weights file's hash.
 */
async function weightsHashOf(folder: string, config: ModelConfig, graph: string): Promise<string> {
  const recorded = recordedWeightsHash(config.raw)
  const described = recordedGraph(folder, config)
  if (recorded === undefined || (described !== undefined && resolve(graph) !== described)) {
    return weightsFileHash(folder, graph)
  }
  const folders = foldersByRecordedHash.get(recorded) ?? new Set<string>()
  folders.add(resolve(folder))
  foldersByRecordedHash.set(recorded, folders)
  return recorded
}

/**
 * Fingerprint the model folder `folder` as it runs `graphFile` (a variant's graph relative to the folder, e.g.
 * `onnx/model_q4.onnx`; default: the folder's default graph): reads its configuration, hashes tokenizer.json, and
 * takes the recorded logical weights hash or (foreign folders, other variants) the weights file's remembered hash.
 */
export async function fingerprintModel(folder: string, graphFile?: string): Promise<ModelFingerprint> {
  const config = readModelConfig(folder)
  const graph = resolveDecoderGraph(folder, config, graphFile)
  const tokenizerPath = join(folder, modelFiles.tokenizer)
  if (!existsSync(tokenizerPath)) {
    throw new TillerError('missing-tokenizer', `No ${modelFiles.tokenizer} in ${folder}.`, {
      subject: tokenizerPath,
    })
  }
  return {
    architecture: config.modelType,
    layers: config.layers,
    hiddenSize: config.hiddenSize,
    tokenizerHash: await hashFile(tokenizerPath),
    weightsHash: await weightsHashOf(folder, config, graph),
  }
}

/** The first field in which `found` differs from `expected` (legacy weights hashes as `checkFingerprint`). */
export function fingerprintDifference(
  expected: ModelFingerprint,
  found: ModelFingerprint,
): (typeof fingerprintFields)[number] | undefined {
  return fingerprintFields.find(
    (field) =>
      expected[field] !== found[field] &&
      !(field === 'weightsHash' && matchesLegacyHash(expected.weightsHash, found.weightsHash)),
  )
}

/**
 * Refuse an edit whose fingerprint differs from the model's, naming the first differing field with both values.
 * A `found` weights hash from before logical hashes is accepted when it is the weights-file hash of a folder
 * fingerprinted (by `fingerprintModel`, in this process) with `expected`'s logical hash.
 * @param expected the model's fingerprint
 * @param found the edit's fingerprint
 * @param source the edit file (or other origin) named in the message
 */
export function checkFingerprint(expected: ModelFingerprint, found: ModelFingerprint, source: string): void {
  const field = fingerprintDifference(expected, found)
  if (field === undefined) return
  throw new TillerError(
    'model-mismatch',
    `${source} was fitted for another model: ${field} differs (this model: ${String(expected[field])}, ` +
      `the edit's: ${String(found[field])}). Fit the edit again on this model.`,
    { subject: field },
  )
}
