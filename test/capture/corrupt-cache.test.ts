import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readActivationSet, writeActivationSet } from '../../src/main/core/capture/activation-file.ts'
import { captureActivations, type CaptureOptions } from '../../src/main/core/capture/capture.ts'
import type { RenderedExample, RenderedSequence } from '../../src/main/core/data/render.ts'
import { isTillerError } from '../../src/main/core/errors.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import type { ActivationSet } from '../../src/shared/activations.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'
import { testFingerprint } from '../helpers/fingerprint.ts'

/**
 * A damaged activation cache file is a cache miss: capture runs again and replaces it. Before, reading it threw a
 * raw SyntaxError or TypeError out of `readActivationSet`, and every later fit on that data failed the same way.
 */

function side(prompt: number[], completion: number[]): RenderedSequence {
  const tokenIds = [...prompt, ...completion]
  return {
    text: '',
    tokenIds,
    prompt: { start: 0, end: prompt.length },
    completion: { start: prompt.length, end: tokenIds.length },
    lastPromptToken: prompt.length - 1,
    assistantStart: prompt.length,
    answerLetter: undefined,
    padding: 0,
  }
}

const examples: RenderedExample[] = [
  { id: 'a', lines: [1], positive: side([1, 5, 6], [7, 8]), negative: side([1, 5, 6], [9]) },
  { id: 'b', lines: [2], positive: side([1, 12], [13]), negative: side([1, 12, 15], [17, 18]) },
]

/** A small valid set, for damaging by hand. */
const sample: ActivationSet = {
  site: 'resid_post',
  selector: 'last',
  layers: [0, 2],
  width: 3,
  rows: 2,
  positive: [Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(7, 8, 9, 10, 11, 12)],
  negative: [Float32Array.of(-1, -2, -3, -4, -5, -6), Float32Array.of(0, 0, 0, 0, 0, 0.5)],
  exampleIds: ['a', 'b'],
  dataHash: 'd'.repeat(64),
  model: testFingerprint(3, 3),
}

/** Rewrites the JSON header of a valid file, keeping its length field honest. */
function withHeader(valid: Buffer, edit: (header: Record<string, unknown>) => unknown): Buffer {
  const length = Number(valid.readBigUInt64LE(0))
  const header = JSON.parse(valid.subarray(8, 8 + length).toString('utf8')) as Record<string, unknown>
  const text = Buffer.from(JSON.stringify(edit(header)), 'utf8')
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(BigInt(text.length))
  return Buffer.concat([prefix, text, valid.subarray(8 + length)])
}

function damagedVersions(valid: Buffer): [string, Buffer][] {
  const metadataOf = (header: Record<string, unknown>) => header['__metadata__'] as Record<string, string>
  return [
    ['empty', Buffer.alloc(0)],
    ['text', Buffer.from('this is not an activation file at all')],
    ['a header length past the end', Buffer.concat([Buffer.from([255, 255, 255, 255, 255, 255, 255, 255])])],
    ['a null header', withHeader(valid, () => null)],
    [
      'an unreadable set description',
      withHeader(valid, (header) => ({
        ...header,
        __metadata__: { ...metadataOf(header), set: '{"layers": [' },
      })),
    ],
    [
      'a description without layers',
      withHeader(valid, (header) => ({
        ...header,
        __metadata__: { ...metadataOf(header), set: JSON.stringify({ rows: 2, width: 3 }) },
      })),
    ],
    [
      'tensor offsets that are not numbers',
      withHeader(valid, (header) => ({
        ...header,
        'positive.0': { dtype: 'F32', shape: [2, 3], data_offsets: 'zero' },
      })),
    ],
    ['the data cut short', valid.subarray(0, valid.length - 10)],
  ]
}

describe('damaged activation files', () => {
  let folder = ''
  let model: LoadedModel

  beforeAll(async () => {
    folder = await buildTinyModel({ family: 'builder' })
    model = await loadModel(folder, { provider: 'cpu' })
  })
  afterAll(async () => {
    await model?.dispose()
  })

  it('give a one-line file-corrupt TillerError naming the file, never a raw parse error', async () => {
    const path = join(folder, 'sample.safetensors')
    await writeActivationSet(path, sample)
    expect(await readActivationSet(path)).toEqual(sample)
    for (const [damage, bytes] of damagedVersions(readFileSync(path))) {
      const damaged = join(folder, 'damaged.safetensors')
      writeFileSync(damaged, bytes)
      const error: unknown = await readActivationSet(damaged).then(
        () => undefined,
        (caught: unknown) => caught,
      )
      expect(isTillerError(error, 'file-corrupt'), `${damage}: ${String(error)}`).toBe(true)
      expect((error as Error).message, damage).toContain(damaged)
      expect((error as Error).message.split('\n'), damage).toHaveLength(1)
    }
  })

  it('are a cache miss: capture runs again and replaces the file', async () => {
    const cacheDirectory = join(folder, 'activation-cache')
    const options: CaptureOptions = { site: 'resid_post', selector: 'last', layers: [0, 1], cacheDirectory }
    const fresh = await captureActivations(model, examples, options)
    const [file] = readdirSync(cacheDirectory)
    if (file === undefined) throw new Error('capture wrote no cache file')
    const path = join(cacheDirectory, file)
    const valid = readFileSync(path)
    for (const [damage, bytes] of damagedVersions(valid)) {
      writeFileSync(path, bytes)
      expect(await captureActivations(model, examples, options), damage).toEqual(fresh)
      expect(Buffer.compare(readFileSync(path), valid), damage).toBe(0)
    }
  })
})
