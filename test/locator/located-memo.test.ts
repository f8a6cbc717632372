import { cpSync, existsSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

/**
 * Locating and compiling are remembered per process (every capture asks again); the answers must still follow the
 * files on disk: a replaced graph is located afresh, a deleted compiled graph is written again, and callers that
 * change what they were given do not change what the next caller gets.
 */
describe('remembered hook maps and compiled graphs', () => {
  const folders: string[] = []
  afterAll(() => {
    for (const folder of folders) rmSync(dirname(folder), { recursive: true, force: true })
  })

  it('locates a graph again once the file was replaced, and hands out copies', async () => {
    const folder = await buildTinyModel({ family: 'builder', config: { numLayers: 3 } })
    const other = await buildTinyModel({ family: 'builder', config: { numLayers: 2 } })
    folders.push(folder, other)
    const first = await locateHookSites(folder)
    expect(first.layers).toHaveLength(3)
    first.layers.pop()
    first.widths.resid_post = 1
    const again = await locateHookSites(folder)
    expect(again.layers).toHaveLength(3)
    expect(again.widths.resid_post).not.toBe(1)

    cpSync(join(other, 'onnx'), join(folder, 'onnx'), { recursive: true })
    const replaced = await locateHookSites(folder)
    expect(replaced.layers).toHaveLength(2)
    expect(replaced.graphHash).not.toBe(again.graphHash)
  })

  it('writes a remembered compiled graph again when its file is gone', async () => {
    const folder = await buildTinyModel({ family: 'optimum', config: { numLayers: 2 } })
    folders.push(folder)
    const spec = { edits: [], hooks: [{ layer: 1, site: 'mlp_out' as const }], hooksOnly: true }
    const compiled = await compileGraph(folder, spec)
    expect(existsSync(compiled.graphPath)).toBe(true)
    compiled.hookOutputs.push('changed by the caller')
    const remembered = await compileGraph(folder, spec)
    expect(remembered.hookOutputs).toEqual(['hook.mlp_out.1'])
    expect(remembered.graphPath).toBe(compiled.graphPath)

    rmSync(compiled.graphPath)
    const rewritten = await compileGraph(folder, spec)
    expect(rewritten.graphPath).toBe(compiled.graphPath)
    expect(existsSync(rewritten.graphPath)).toBe(true)
    const other = await compileGraph(folder, { ...spec, hooks: [{ layer: 0, site: 'mlp_out' as const }] })
    expect(other.graphPath).not.toBe(compiled.graphPath)
    expect(other.hookOutputs).toEqual(['hook.mlp_out.0'])
  })
})
