import { mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isSmallGraph, singleThreadDecodeBytes } from '../../src/main/core/runtime/session.ts'

const folders: string[] = []

/** A folder holding `model.onnx` (1 KB) and `files` of the given sizes (sparse: nothing is written). */
function folderWith(files: Record<string, number>): string {
  const folder = mkdtempSync(join(tmpdir(), 'tiller-small-graph-'))
  folders.push(folder)
  writeFileSync(join(folder, 'model.onnx'), new Uint8Array(1024))
  for (const [name, size] of Object.entries(files)) {
    writeFileSync(join(folder, name), '')
    truncateSync(join(folder, name), size)
  }
  return folder
}

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

describe('isSmallGraph: the weights beside a graph, whatever their file names', () => {
  const large = singleThreadDecodeBytes + 1

  it('counts external data of any name, and not configuration, tokenizer or other graph files', () => {
    expect(isSmallGraph(join(folderWith({ 'model.onnx_data': 1024 }), 'model.onnx'))).toBe(true)
    for (const name of ['model.onnx_data', 'model.onnx.data', 'weights.bin', 'weights.pb']) {
      expect(isSmallGraph(join(folderWith({ [name]: large }), 'model.onnx')), name).toBe(false)
    }
    const beside = { 'tokenizer.json': large, 'model_fp16.onnx': large, 'tokenizer.model': large }
    expect(isSmallGraph(join(folderWith(beside), 'model.onnx'))).toBe(true)
  })

  it('follows links (the Hugging Face cache links snapshot files to blobs)', () => {
    const blobs = folderWith({ blob: large })
    const snapshot = folderWith({})
    symlinkSync(join(blobs, 'blob'), join(snapshot, 'model.onnx_data'))
    expect(isSmallGraph(join(snapshot, 'model.onnx'))).toBe(false)
    expect(isSmallGraph(join(folderWith({}), 'missing.onnx'))).toBe(false)
  })
})
