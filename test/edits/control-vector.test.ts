import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GGMLQuantizationType, GGUFValueType, gguf } from '@huggingface/gguf'
import { describe, expect, it } from 'vitest'
import { exportControlVector, importControlVector } from '../../src/main/core/edits/control-vector.ts'
import { isTillerError, type TillerErrorCode } from '../../src/main/core/errors.ts'
import { writeGgufFile, type GgufMetadataValue } from '../../src/main/core/gguf/writer.ts'
import type { Edit, Intervention } from '../../src/shared/edit.ts'
import { testFingerprint } from '../helpers/fingerprint.ts'

const width = 6
const model = testFingerprint(5, width)

function vector(seed: number): Float32Array {
  return Float32Array.from(
    { length: width },
    (_, index) => Math.cos(seed * 3.7 + index) * 10 ** ((index % 4) - 1),
  )
}

function additive(layer: number, data = vector(layer)): Intervention {
  return { layer, site: 'resid_post', positions: { kind: 'all' }, op: { kind: 'add', vector: data } }
}

function edit(interventions: Intervention[]): Edit {
  return {
    version: 1,
    id: 'cv-1',
    method: 'pca-diff',
    options: { layers: [1, 2, 4] },
    model,
    interventions,
    created: '2026-02-03T04:05:06.000Z',
    notes: 'explains 93 % of the variance',
  }
}

function folder(): string {
  return mkdtempSync(join(tmpdir(), 'tiller-cvec-'))
}

function bits(array: Float32Array): number[] {
  return Array.from(new Uint32Array(array.buffer, array.byteOffset, array.length))
}

async function expectRejection(
  promise: Promise<unknown>,
  code: TillerErrorCode,
  pattern: RegExp,
): Promise<void> {
  let caught: unknown
  try {
    await promise
  } catch (error) {
    caught = error
  }
  expect(isTillerError(caught, code), `expected ${code}, got ${String(caught)}`).toBe(true)
  expect((caught as Error).message).toMatch(pattern)
}

async function foreignFile(
  path: string,
  tensors: {
    name: string
    type?: GGMLQuantizationType
    shape?: number[]
    data: Float32Array | Uint16Array
  }[],
  metadata: [string, GgufMetadataValue][] = [
    ['general.architecture', { type: 'string', value: 'controlvector' }],
    ['controlvector.model_hint', { type: 'string', value: 'llama' }],
    ['controlvector.layer_count', { type: 'int32', value: tensors.length }],
  ],
): Promise<void> {
  await writeGgufFile(path, {
    metadata,
    tensors: tensors.map((tensor) => ({
      name: tensor.name,
      type: tensor.type ?? GGMLQuantizationType.F32,
      shape: tensor.shape ?? [tensor.data.length],
      data: tensor.data,
    })),
  })
}

describe('control vector export', () => {
  it('round-trips an additive resid_post edit bit-exactly, and the file byte-exactly', async () => {
    const special = vector(9)
    new Uint32Array(special.buffer)[0] = 0x00000001 // the smallest subnormal
    special[1] = -0
    const original = edit([additive(4), additive(1, special), additive(2)])
    const directory = folder()
    const first = join(directory, 'first.gguf')
    await exportControlVector(original, first)
    const imported = await importControlVector(first, { model })
    expect(imported.interventions.map((intervention) => intervention.layer)).toEqual([1, 2, 4])
    const byLayer = new Map(original.interventions.map((intervention) => [intervention.layer, intervention]))
    for (const intervention of imported.interventions) {
      expect(intervention.site).toBe('resid_post')
      expect(intervention.positions).toEqual({ kind: 'all' })
      const source = byLayer.get(intervention.layer)!
      if (intervention.op.kind !== 'add' || source.op.kind !== 'add') throw new Error('expected add')
      expect(bits(intervention.op.vector)).toEqual(bits(source.op.vector))
    }
    expect({ ...imported, interventions: [] }).toEqual({ ...original, interventions: [] })
    const second = join(directory, 'second.gguf')
    await exportControlVector(imported, second)
    expect(Buffer.compare(readFileSync(first), readFileSync(second))).toBe(0)
  })

  it('writes the layout llama.cpp loads: only direction.k F32 1-D tensors, aligned, with the controlvector keys', async () => {
    const path = join(folder(), 'layout.gguf')
    const source = edit([additive(3), additive(1)])
    await exportControlVector(source, path, { modelHint: 'llama' })
    const parsed = await gguf(path, { allowLocalFile: true, typedMetadata: true })
    const metadata = parsed.typedMetadata
    expect(metadata.version.value).toBe(3)
    expect(parsed.littleEndian).toBe(true)
    expect(metadata['general.architecture']).toEqual({ value: 'controlvector', type: GGUFValueType.STRING })
    expect(metadata['controlvector.model_hint']).toEqual({ value: 'llama', type: GGUFValueType.STRING })
    expect(metadata['controlvector.layer_count']).toEqual({ value: 2, type: GGUFValueType.UINT32 })
    expect(metadata['general.alignment']).toBeUndefined()
    expect(parsed.tensorInfos.map((info) => [info.name, info.n_dims, info.shape, info.dtype])).toEqual([
      ['direction.1', 1, [BigInt(width)], GGMLQuantizationType.F32],
      ['direction.3', 1, [BigInt(width)], GGMLQuantizationType.F32],
    ])
    // llama.cpp's loader: every name is "direction" + "." + a decimal k ≥ 1.
    for (const info of parsed.tensorInfos) {
      const [prefix, index, ...rest] = info.name.split('.')
      expect([prefix, rest.length]).toEqual(['direction', 0])
      expect(Number.parseInt(index!, 10)).toBeGreaterThanOrEqual(1)
    }
    const dataOffset = Number(parsed.tensorDataOffset)
    expect(dataOffset % 32).toBe(0)
    const bytes = readFileSync(path)
    parsed.tensorInfos.forEach((info, index) => {
      expect(Number(info.offset) % 32).toBe(0)
      const start = dataOffset + Number(info.offset)
      const stored = new Float32Array(Uint8Array.from(bytes.subarray(start, start + 4 * width)).buffer)
      const op = source.interventions[1 - index]!.op
      if (op.kind !== 'add') throw new Error('expected add')
      expect(bits(stored)).toEqual(bits(op.vector))
    })
    const lastEnd = dataOffset + Number(parsed.tensorInfos[1]!.offset) + 4 * width
    expect(statSync(path).size).toBe(lastEnd + ((32 - (lastEnd % 32)) % 32))
  })

  it('sums interventions that share a layer, in float32', async () => {
    const path = join(folder(), 'sum.gguf')
    const first = vector(1)
    const second = vector(2)
    await exportControlVector(edit([additive(2, first), additive(2, second)]), path)
    const imported = await importControlVector(path)
    expect(imported.interventions).toHaveLength(1)
    const op = imported.interventions[0]!.op
    if (op.kind !== 'add') throw new Error('expected add')
    expect(Array.from(op.vector)).toEqual(
      Array.from(first, (value, index) => Math.fround(value + second[index]!)),
    )
  })

  it('refuses what a control vector cannot represent, naming the intervention and the reason', async () => {
    const path = join(folder(), 'refused.gguf')
    const cases: [Intervention, RegExp][] = [
      [additive(0), /layer 0.*never steers block 0/],
      [{ ...additive(2), site: 'resid_pre' }, /resid_pre.*block output \(resid_post\) only/],
      [
        { ...additive(2), positions: { kind: 'fromAssistantStart' } },
        /every position, this edit applies "fromAssistantStart"/,
      ],
      [
        { ...additive(2), op: { kind: 'project', basis: vector(1), rank: 1, mode: 'remove' } },
        /only adds vectors, this is project/,
      ],
      [additive(2, new Float32Array(4)), /4 values but the model's hidden size is 6/],
      [additive(2, Float32Array.of(0, 1, Number.NaN, 0, 0, 0)), /value 2 of its vector is NaN/],
      [additive(3, Float32Array.of(0, 0, 0, 0, 0, -Infinity)), /value 5 of its vector is -Infinity/],
    ]
    for (const [intervention, pattern] of cases) {
      await expectRejection(
        exportControlVector(edit([additive(1), intervention]), path),
        'unrepresentable-edit',
        pattern,
      )
      await expectRejection(
        exportControlVector(edit([additive(1), intervention]), path),
        'unrepresentable-edit',
        /^Intervention 1 /,
      )
    }
    await expectRejection(exportControlVector(edit([]), path), 'unrepresentable-edit', /no interventions/)
    expect(() => statSync(path)).toThrow()
  })

  it('names a path it cannot write in one line', async () => {
    const path = join(folder(), 'missing-folder', 'x.gguf')
    await expectRejection(
      exportControlVector(edit([additive(1)]), path),
      'invalid-argument',
      /^Cannot write the control vector .*x\.gguf: the folder .*missing-folder does not exist\.$/,
    )
  })
})

describe('control vector import', () => {
  it('reads files from other tools: i32 layer_count, no Tiller keys', async () => {
    const path = join(folder(), 'foreign.gguf')
    await foreignFile(path, [
      { name: 'direction.2', data: vector(2) },
      { name: 'direction.1', data: vector(1) },
    ])
    const imported = await importControlVector(path)
    expect(imported.method).toBe('pca-diff')
    expect(imported.options).toEqual({ importedFrom: path, methodKnown: false })
    expect(imported.notes).toMatch(/fitting method is unknown/)
    expect(imported.model).toEqual({
      architecture: 'llama',
      layers: 3,
      hiddenSize: width,
      tokenizerHash: '',
      weightsHash: '',
    })
    expect(imported.interventions.map((intervention) => intervention.layer)).toEqual([1, 2])
    const withModel = await importControlVector(path, { model })
    expect(withModel.model).toEqual(model)
  })

  it('refuses invalid names, direction.0, non-F32 or 2-D tensors, mixed widths and wrong layer_count types', async () => {
    const directory = folder()
    const cases: [Parameters<typeof foreignFile>[1], RegExp, [string, GgufMetadataValue][]?][] = [
      [[{ name: 'direction.x', data: vector(1) }], /"direction\.x" is not named direction\.<layer>/],
      [
        [
          { name: 'direction.1', data: vector(1) },
          { name: 'bias', data: vector(2) },
        ],
        /"bias" is not named/,
      ],
      [[{ name: 'direction.0', data: vector(1) }], /direction\.0 is not allowed/],
      [
        [{ name: 'direction.1', type: GGMLQuantizationType.F16, data: new Uint16Array(width) }],
        /must be 1-D F32/,
      ],
      [[{ name: 'direction.1', shape: [2, 3], data: vector(1) }], /must be 1-D F32/],
      [
        [
          { name: 'direction.1', data: vector(1) },
          { name: 'direction.2', data: new Float32Array(4) },
        ],
        /4 values, the others 6/,
      ],
      [
        [{ name: 'direction.1', data: vector(1) }],
        /layer_count has GGUF type 6/,
        [
          ['general.architecture', { type: 'string', value: 'controlvector' }],
          ['controlvector.layer_count', { type: 'float32', value: 1 }],
        ],
      ],
    ]
    for (const [index, [tensors, pattern, metadata]] of cases.entries()) {
      const path = join(directory, `bad-${index}.gguf`)
      await foreignFile(path, tensors, metadata)
      await expectRejection(importControlVector(path), 'file-corrupt', pattern)
    }
  })

  it('refuses a vector for another model, naming what differs', async () => {
    const path = join(folder(), 'other.gguf')
    await exportControlVector(edit([additive(1), additive(4)]), path)
    await expectRejection(
      importControlVector(path, { model: { ...model, hiddenSize: 8 } }),
      'model-mismatch',
      /6 values .* hidden size is 8/,
    )
    await expectRejection(
      importControlVector(path, { model: { ...model, architecture: 'qwen2' } }),
      'model-mismatch',
      /"llama" model .* "qwen2"/,
    )
    await expectRejection(
      importControlVector(path, { model: { ...model, layers: 3 } }),
      'model-mismatch',
      /block 4 .* blocks 0…2/,
    )
    await expectRejection(
      importControlVector(path, { model: { ...model, weightsHash: '5'.repeat(64) } }),
      'model-mismatch',
      /weightsHash differs/,
    )
  })
})
