/**
 * Recognising a model folder on disk without loading it: `config.json` plus at least one `.onnx` graph, in the
 * folder itself or its `onnx/` subfolder (the Optimum and Transformers.js layouts). Reading is cheap and never
 * throws for a folder that is not a model: the answer is null, so scanning many folders is safe.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { DiscoveredModel, ModelSource } from '../../../../shared/studio.ts'
import { describeVariants } from '../variants.ts'

/** The config.json fields the Models screen shows. */
export interface ConfigSummary {
  architecture: string | null
  layers: number | null
  hiddenSize: number | null
  keyValueHeads: number | null
  headDimension: number | null
  contextLength: number | null
}

function positiveInteger(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null
}

/** The fields of a parsed config.json that describe the model; anything missing is null. */
export function summariseConfig(config: unknown): ConfigSummary {
  const record = typeof config === 'object' && config !== null ? (config as Record<string, unknown>) : {}
  const architectures = record['architectures']
  const first = Array.isArray(architectures) ? architectures[0] : undefined
  const modelType = record['model_type']
  const architecture = typeof first === 'string' ? first : typeof modelType === 'string' ? modelType : null
  const hiddenSize = positiveInteger(record['hidden_size'])
  const heads = positiveInteger(record['num_attention_heads'])
  return {
    architecture,
    layers: positiveInteger(record['num_hidden_layers']),
    hiddenSize,
    keyValueHeads: positiveInteger(record['num_key_value_heads']) ?? heads,
    headDimension:
      positiveInteger(record['head_dim']) ??
      (hiddenSize !== null && heads !== null ? hiddenSize / heads : null),
    contextLength: positiveInteger(record['max_position_embeddings']),
  }
}

/** Read and summarise `folder/config.json`; null when it is missing or not JSON. */
export async function readConfigSummary(folder: string): Promise<ConfigSummary | null> {
  try {
    return summariseConfig(JSON.parse(await readFile(join(folder, 'config.json'), 'utf8')))
  } catch {
    return null
  }
}

/** Names of the entries of `folder`, or [] when it cannot be read. */
async function entryNames(folder: string): Promise<string[]> {
  try {
    return await readdir(folder)
  } catch {
    return []
  }
}

/** The `.onnx` files of `folder` and of `folder/onnx`, relative to `folder`. */
export async function onnxGraphs(folder: string): Promise<string[]> {
  const direct = (await entryNames(folder)).filter((name) => name.endsWith('.onnx'))
  const nested = (await entryNames(join(folder, 'onnx')))
    .filter((name) => name.endsWith('.onnx'))
    .map((name) => `onnx/${name}`)
  return [...direct, ...nested].sort()
}

/** Total bytes of the files under `folder`, following symbolic links (cycles are not followed twice). */
export async function folderSize(folder: string, seen: Set<string> = new Set()): Promise<number> {
  if (seen.has(folder)) return 0
  seen.add(folder)
  let total = 0
  for (const name of await entryNames(folder)) {
    const path = join(folder, name)
    try {
      const info = await stat(path)
      total += info.isDirectory() ? await folderSize(path, seen) : info.size
    } catch {
      // A broken link counts as nothing; the folder's other files still count.
    }
  }
  return total
}

/** Describe `folder` when it is a model folder (config.json and an ONNX graph), else null. */
export async function describeModelFolder(
  folder: string,
  source: ModelSource,
  name: string = basename(folder),
): Promise<DiscoveredModel | null> {
  const names = await entryNames(folder)
  if (!names.includes('config.json')) return null
  const graphs = await onnxGraphs(folder)
  if (graphs.length === 0) return null
  const config = await readConfigSummary(folder)
  const { variants, chosen } = describeVariants(folder)
  return {
    path: folder,
    name,
    source,
    architecture: config?.architecture ?? null,
    layers: config?.layers ?? null,
    hiddenSize: config?.hiddenSize ?? null,
    sizeBytes: await folderSize(folder),
    onnxFiles: graphs,
    variants,
    defaultVariant: chosen ?? null,
  }
}
