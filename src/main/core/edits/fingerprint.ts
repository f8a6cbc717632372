/**
 * Model fingerprints: what identifies the model an edit was fitted on (architecture, depth, width, tokenizer and
 * weights hashes), and the check that names the field that differs.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { ModelFingerprint } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'
import { modelFiles } from '../models/graph-contract.ts'
import { genaiDecoderFile, readModelConfig } from '../runtime/model-config.ts'
import { hashFile } from '../workspace/file-hash.ts'

/** Fields compared, in the order a mismatch is reported. */
const fingerprintFields = ['architecture', 'layers', 'hiddenSize', 'tokenizerHash', 'weightsHash'] as const

/**
 * The file holding the decoder's weights: the graph's external data file when there is one, else the graph itself
 * (weights stored inline).
 */
function weightsFile(folder: string): string {
  const config = readModelConfig(folder)
  const genai = genaiDecoderFile(config)
  const graphs = [modelFiles.graph, ...(genai === undefined ? [] : [genai]), 'model.onnx']
  for (const graph of graphs) {
    const path = join(folder, graph)
    if (!existsSync(path)) continue
    for (const data of [`${path}_data`, `${path}.data`]) if (existsSync(data)) return data
    return path
  }
  throw new TillerError(
    'invalid-model-folder',
    `${folder} has no decoder graph (looked for ${graphs.join(', ')}).`,
    {
      subject: folder,
    },
  )
}

/** Fingerprint the model folder `folder` (reads config, hashes tokenizer.json and the weights file). */
export async function fingerprintModel(folder: string): Promise<ModelFingerprint> {
  const config = readModelConfig(folder)
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
    weightsHash: await hashFile(weightsFile(folder)),
  }
}

/**
 * Refuse an edit whose fingerprint differs from the model's, naming the first differing field with both values.
 * @param source the edit file (or other origin) named in the message
 */
export function checkFingerprint(expected: ModelFingerprint, found: ModelFingerprint, source: string): void {
  for (const field of fingerprintFields) {
    if (expected[field] !== found[field]) {
      throw new TillerError(
        'model-mismatch',
        `${source} was fitted for another model: ${field} differs (this model: ${String(expected[field])}, ` +
          `the edit's: ${String(found[field])}). Fit the edit again on this model.`,
        { subject: field },
      )
    }
  }
}
