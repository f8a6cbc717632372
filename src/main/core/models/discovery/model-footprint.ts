/**
 * The loaded model's footprint for the Models screen: its size on disk, and the memory it is expected to take —
 * the weights (the ONNX graphs and their external data) plus the key/value cache of one sequence at the full
 * context. A planning figure a user compares with free memory, not a measurement of the process.
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { ModelFootprint } from '../../../../shared/studio.ts'
import { folderSize, readConfigSummary, type ConfigSummary } from './model-folder.ts'

/** Graphs Tiller compiles next to the weights: alternatives to the base graph, not loaded at the same time. */
const compiledGraphPrefix = 'steered-'

function isWeightFile(name: string): boolean {
  if (name.startsWith(compiledGraphPrefix)) return false
  return name.endsWith('.onnx') || name.endsWith('.onnx_data') || name.endsWith('.onnx.data')
}

async function weightBytes(folder: string): Promise<number> {
  let total = 0
  for (const sub of [folder, join(folder, 'onnx')]) {
    let names: string[]
    try {
      names = await readdir(sub)
    } catch {
      continue
    }
    for (const name of names.filter(isWeightFile)) {
      try {
        total += (await stat(join(sub, name))).size
      } catch {
        // A broken link adds nothing.
      }
    }
  }
  return total
}

/** Key/value cache bytes of one sequence at `contextLength`: keys and values, every layer, every KV head. */
export function keyValueCacheBytes(config: ConfigSummary, bytesPerValue: number): number {
  const { layers, keyValueHeads, headDimension, contextLength } = config
  if (layers === null || keyValueHeads === null || headDimension === null || contextLength === null) return 0
  return 2 * layers * keyValueHeads * headDimension * contextLength * bytesPerValue
}

/** The footprint of the model folder `folder` whose weights are `dtype`. */
export async function modelFootprint(folder: string, dtype: 'float32' | 'float16'): Promise<ModelFootprint> {
  const config = await readConfigSummary(folder)
  const cache = config === null ? 0 : keyValueCacheBytes(config, dtype === 'float16' ? 2 : 4)
  return {
    path: folder,
    sizeBytes: await folderSize(folder),
    expectedMemoryBytes: (await weightBytes(folder)) + cache,
    contextLength: config?.contextLength ?? null,
  }
}
