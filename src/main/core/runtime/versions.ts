/**
 * Versions of the libraries the runtime is built on, as `tiller doctor` and the status screen show them.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'

/**
 * Transformers.js' version from its package.json: importing the library for its `env.version` costs about half a
 * second. Its exports hide package.json, so the file is found from the entry point (`dist/…` under the package).
 */
function transformersVersion(): string | undefined {
  try {
    const require = createRequire(import.meta.url)
    const packageRoot = dirname(dirname(require.resolve('@huggingface/transformers')))
    const manifest = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as {
      name?: unknown
      version?: unknown
    }
    if (manifest.name === '@huggingface/transformers' && typeof manifest.version === 'string') {
      return manifest.version
    }
  } catch {
    // An unusual install layout: ask the library itself below.
  }
  return undefined
}

/** ONNX Runtime (the Node binding) and Transformers.js versions. */
export async function runtimeVersions(): Promise<{ onnxRuntime: string; transformers: string }> {
  const onnxRuntime = ort.env.versions.node ?? ort.env.versions.common
  const transformers = transformersVersion() ?? (await import('@huggingface/transformers')).env.version
  return { onnxRuntime, transformers }
}
