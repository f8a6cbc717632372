import { rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll } from 'vitest'
import type { LlamaCheckpoint } from '../../src/main/core/models/checkpoint.ts'
import { modelFiles } from '../../src/main/core/models/graph-contract.ts'
import { buildTinyModel, tinyCheckpoint, type TinyModelOptions } from '../helpers/tiny-models.ts'

/** A tiny exported model and an ONNX Runtime session over one of its graphs. */
export interface TinySession {
  checkpoint: LlamaCheckpoint
  folder: string
  session: ort.InferenceSession
}

/**
 * For the enclosing describe block: export a tiny model with `options` and open `graphFile` (relative to the folder)
 * before its tests, release the session and delete the folder after them. The fields are set once beforeAll ran.
 */
export function useTinySession(options: TinyModelOptions, graphFile: string = modelFiles.graph): TinySession {
  const built: Partial<TinySession> = {}
  const field = <Key extends keyof TinySession>(key: Key): TinySession[Key] => {
    const value = built[key]
    if (value === undefined) throw new Error(`the tiny model's ${key} is read before beforeAll built it`)
    return value
  }
  beforeAll(async () => {
    built.checkpoint = tinyCheckpoint(options)
    built.folder = await buildTinyModel(options)
    built.session = await ort.InferenceSession.create(join(built.folder, graphFile))
  })
  afterAll(async () => {
    await built.session?.release()
    if (built.folder !== undefined) rmSync(dirname(built.folder), { recursive: true, force: true })
  })
  return {
    get checkpoint() {
      return field('checkpoint')
    },
    get folder() {
      return field('folder')
    },
    get session() {
      return field('session')
    },
  }
}
