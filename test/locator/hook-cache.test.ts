import { readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { locateHookSites, type HookMap } from '../../src/main/core/models/locator/index.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { editOf, randomVector } from '../compiler/support.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

function cacheFile(folder: string): string {
  const names = readdirSync(join(folder, '.tiller')).filter((name) => name.startsWith('hooks-'))
  expect(names).toHaveLength(1)
  return join(folder, '.tiller', names[0] as string)
}

function readMap(path: string): HookMap {
  return JSON.parse(readFileSync(path, 'utf8')) as HookMap
}

/** Rewrite the cache file with `tamper` applied and an old mtime, so a rewrite is visible. */
function tamper(path: string, change: (map: HookMap) => void): void {
  const map = readMap(path)
  change(map)
  writeFileSync(path, JSON.stringify(map))
  utimesSync(path, new Date(0), new Date(0))
}

/** Logits of `rows` through `folder`'s graph compiled with one add at `layer`'s resid_post, strength 1. */
async function steeredLogits(folder: string, layer: number, vector: Float32Array): Promise<number[]> {
  const compiled = await compileGraph(folder, {
    edits: [
      editOf('e', [{ layer, site: 'resid_post', positions: { kind: 'all' }, op: { kind: 'add', vector } }]),
    ],
  })
  const model = await loadModel(folder, { provider: 'cpu', graphFile: compiled.graphFile })
  try {
    const result = await forwardBatch(model, [[3, 4, 5]], {
      fetch: ['logits'],
      extraInputs: steeringInputs(compiled, [1]),
    })
    return Array.from(result.outputs.logits?.data as Float32Array)
  } finally {
    await model.dispose()
    // Compiled graphs are reused by name; delete this one so the next call compiles from the map again.
    rmSync(compiled.graphPath, { force: true })
  }
}

describe.each(['optimum', 'builder'] as const)(
  'the hook-map cache of a %s graph is checked before use',
  (family) => {
    it('uses an intact cache, and recomputes and rewrites one with swapped layers, a missing node or wrong widths', async () => {
      const folder = await buildTinyModel({ family, config: { numLayers: 3 } })
      const map = await locateHookSites(folder)
      const path = cacheFile(folder)
      expect(map.layers[0]).not.toEqual(map.layers[2])

      utimesSync(path, new Date(0), new Date(0))
      expect(await locateHookSites(folder)).toEqual(map)
      expect(statSync(path).mtimeMs).toBe(0)

      const tamperings: Record<string, (cached: HookMap) => void> = {
        'swapped layers': (cached) => {
          cached.layers = [cached.layers[2], cached.layers[1], cached.layers[0]] as HookMap['layers']
        },
        'a missing node': (cached) => {
          cached.layers[1] = {
            ...(cached.layers[1] as HookMap['layers'][number]),
            attn_out: { kind: 'tensor', tensor: 'gone' },
          }
        },
        'a dropped layer': (cached) => {
          cached.layers = cached.layers.slice(0, 2)
        },
        'a wrong width': (cached) => {
          cached.widths = { ...cached.widths, resid_pre: 7, resid_post: 7, attn_out: 7, mlp_out: 7 }
        },
      }
      for (const [name, change] of Object.entries(tamperings)) {
        tamper(path, change)
        expect({ name, map: await locateHookSites(folder) }).toEqual({ name, map })
        expect({ name, rewritten: statSync(path).mtimeMs > 0 }).toEqual({ name, rewritten: true })
        expect(readMap(path)).toEqual(map)
      }
    })

    it('an edit at layer 2 lands on layer 2 when the cache says layers 0 and 2 are swapped', async () => {
      const folder = await buildTinyModel({ family, config: { numLayers: 3 } })
      const map = await locateHookSites(folder)
      const vector = randomVector(map.widths.resid_post, 5)
      const atLayer0 = await steeredLogits(folder, 0, vector)
      const atLayer2 = await steeredLogits(folder, 2, vector)
      expect(atLayer2).not.toEqual(atLayer0)

      tamper(cacheFile(folder), (cached) => {
        cached.layers = [cached.layers[2], cached.layers[1], cached.layers[0]] as HookMap['layers']
      })
      expect(await steeredLogits(folder, 2, vector)).toEqual(atLayer2)
      rmSync(join(folder, '.tiller'), { recursive: true, force: true })
    })
  },
)
