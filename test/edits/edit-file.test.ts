import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  decodeEditFile,
  encodeEditFile,
  readEditFile,
  writeEditFile,
} from '../../src/main/core/edits/edit-file.ts'
import { decodeSafetensors, encodeSafetensors } from '../../src/main/core/edits/safetensors.ts'
import { isTillerError, type TillerErrorCode } from '../../src/main/core/errors.ts'
import type { Edit, ModelFingerprint } from '../../src/shared/edit.ts'
import { testFingerprint } from '../helpers/fingerprint.ts'

const width = 4
const model = testFingerprint(3, width)

function values(count: number, seed: number): Float32Array {
  return Float32Array.from(
    { length: count },
    (_, index) => Math.sin(seed * 7.1 + index * 1.3) * 10 ** ((index % 5) - 2),
  )
}

/** An edit using every op kind, two interventions sharing layer 1 / resid_post, and awkward float values. */
function sampleEdit(): Edit {
  const special = values(width, 1)
  const bits = new Uint32Array(special.buffer)
  bits[0] = 0x7fc00123 // a NaN with a payload
  special[1] = -0
  special[2] = Infinity
  return {
    version: 1,
    id: 'edit-1',
    method: 'caa',
    options: { layers: [1], note: 'x' },
    model,
    interventions: [
      {
        layer: 1,
        site: 'resid_post',
        positions: { kind: 'fromAssistantStart' },
        op: { kind: 'add', vector: special },
      },
      {
        layer: 1,
        site: 'resid_post',
        positions: { kind: 'all' },
        op: { kind: 'add', vector: values(width, 2) },
      },
      {
        layer: 0,
        site: 'resid_pre',
        positions: { kind: 'promptPrefix', count: 3 },
        op: { kind: 'addAt', count: 3, vectors: values(3 * width, 3) },
      },
      {
        layer: 2,
        site: 'attn_out',
        positions: { kind: 'all' },
        op: { kind: 'project', rank: 2, mode: 'remove', basis: values(2 * width, 4) },
      },
      {
        layer: 2,
        site: 'mlp_act',
        positions: { kind: 'lastPromptToken' },
        op: { kind: 'scale', factors: values(16, 5) },
      },
      {
        layer: 0,
        site: 'mlp_out',
        positions: { kind: 'generated' },
        op: {
          kind: 'spectral',
          keep: new Float32Array(0),
          keepRank: 0,
          remove: values(width, 6),
          removeRank: 1,
          merge: 'norm',
          phi: 'tanh',
          phiMode: 'paper',
        },
      },
      {
        layer: 2,
        site: 'resid_post',
        positions: { kind: 'prompt' },
        op: {
          kind: 'householder',
          probe: values(width, 7),
          angleWidths: [width, 2, 1],
          angleWeights: [values(2 * width, 8), values(2, 10)],
          angleBiases: [values(2, 9), values(1, 11)],
        },
      },
    ],
    created: '2026-01-02T03:04:05.000Z',
    notes: 'round trip',
  }
}

function bytesOf(edit: Edit, extras = {}): Uint8Array {
  const chunks = encodeEditFile(edit, extras)
  return Uint8Array.from(chunks.flatMap((chunk) => Array.from(chunk)))
}

function expectError(action: () => unknown, code: TillerErrorCode, pattern: RegExp): void {
  let caught: unknown
  try {
    action()
  } catch (error) {
    caught = error
  }
  expect(isTillerError(caught, code), `expected ${code}, got ${String(caught)}`).toBe(true)
  expect((caught as Error).message).toMatch(pattern)
}

/** Re-encode a valid file with its manifest changed by `change`. */
function withManifest(bytes: Uint8Array, change: (manifest: Record<string, unknown>) => void): Uint8Array {
  const { metadata, tensors } = decodeSafetensors(bytes, 'x')
  const manifest = JSON.parse(metadata.manifest!) as Record<string, unknown>
  change(manifest)
  const chunks = encodeSafetensors(tensors, { ...metadata, manifest: JSON.stringify(manifest) })
  return Uint8Array.from(chunks.flatMap((chunk) => Array.from(chunk)))
}

/** A safetensors file with an arbitrary header and data section. */
function rawFile(header: unknown, data: Uint8Array, declaredLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header))
  const bytes = new Uint8Array(8 + json.length + data.length)
  new DataView(bytes.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true)
  bytes.set(json, 8)
  bytes.set(data, 8 + json.length)
  return bytes
}

describe('edit files', () => {
  it('round-trips every op bit-exactly through a file, with the manifest filled in', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'tiller-edit-'))
    const path = join(folder, 'edit.safetensors')
    const edit = sampleEdit()
    const extras = {
      chatTemplate: { kind: 'chat-template' as const, template: '{{ x }}', systemPrompt: undefined },
      dataset: { hash: 'f'.repeat(64), size: 12 },
      evaluation: { mc1: 0.5 },
      strengthRange: [-3, 3] as [number, number],
    }
    await writeEditFile(path, edit, extras)
    expect(readdirSync(folder)).toEqual(['edit.safetensors'])
    const { edit: read, manifest } = await readEditFile(path, model)
    expect(read).toEqual(edit)
    edit.interventions.forEach((intervention, index) => {
      const original = Object.values(intervention.op).filter((value) => value instanceof Float32Array)
      const copy = Object.values(read.interventions[index]!.op).filter(
        (value) => value instanceof Float32Array,
      )
      expect(
        copy.map((array) => Array.from(new Uint32Array(array.buffer, array.byteOffset, array.length))),
      ).toEqual(
        original.map((array) => Array.from(new Uint32Array(array.buffer, array.byteOffset, array.length))),
      )
    })
    expect(manifest.format).toBe('tiller-edit')
    expect(manifest.layerConvention).toMatch(
      /^0-based decoder block; resid_post\[l\] = HF hidden_states\[l\+1\]/,
    )
    expect(manifest.strength).toEqual({
      semantics: expect.stringContaining('multiplier'),
      default: 1,
      testedRange: [-3, 3],
    })
    expect(manifest.chatTemplate).toEqual({ kind: 'chat-template', template: '{{ x }}' })
    expect(manifest.dataset).toEqual(extras.dataset)
    expect(manifest.evaluation).toEqual({ mc1: 0.5 })
    expect(manifest.toolVersion).toMatch(/^tiller \d+\.\d+\.\d+/)
    expect(Object.keys(manifest.sites).sort()).toEqual([
      'attn_out',
      'mlp_act',
      'mlp_out',
      'resid_post',
      'resid_pre',
    ])
    const names = manifest.interventions.flatMap((entry) =>
      Object.values(entry.tensors).map((tensor) => tensor.name),
    )
    expect(names).toEqual([
      'layers.1.resid_post.0.add.vector',
      'layers.1.resid_post.1.add.vector',
      'layers.0.resid_pre.addAt.vectors',
      'layers.2.attn_out.project.basis',
      'layers.2.mlp_act.scale.factors',
      'layers.0.mlp_out.spectral.keep',
      'layers.0.mlp_out.spectral.remove',
      'layers.2.resid_post.householder.probe',
      'layers.2.resid_post.householder.angle.0.weight',
      'layers.2.resid_post.householder.angle.0.bias',
      'layers.2.resid_post.householder.angle.1.weight',
      'layers.2.resid_post.householder.angle.1.bias',
    ])
    // The container itself is standard: 8-byte-aligned data start, header JSON, space padding.
    const bytes = readFileSync(path)
    expect(Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)) % 8).toBe(0)
  })

  it('names the fingerprint field that differs when the file is for another model', () => {
    const bytes = bytesOf(sampleEdit())
    expectError(
      () => decodeEditFile(bytes, 'e.safetensors', { ...model, hiddenSize: 8 }),
      'model-mismatch',
      /e\.safetensors was fitted for another model: hiddenSize differs \(this model: 8, the edit's: 4\)/,
    )
    expectError(
      () => decodeEditFile(bytes, 'e.safetensors', { ...model, tokenizerHash: '9'.repeat(64) }),
      'model-mismatch',
      /tokenizerHash differs/,
    )
    expect(decodeEditFile(bytes, 'e.safetensors').edit.id).toBe('edit-1')
  })

  it('rejects broken containers', () => {
    const data = new Uint8Array(8)
    expectError(
      () => decodeEditFile(new Uint8Array(5), 'f', undefined),
      'file-corrupt',
      /shorter than the 8-byte/,
    )
    expectError(
      () => decodeEditFile(rawFile({}, data, 10_000), 'f'),
      'file-corrupt',
      /header length 10000 exceeds/,
    )
    expectError(() => decodeEditFile(rawFile({}, data, 1), 'f'), 'file-corrupt', /too small/)
    const notJson = rawFile({}, new Uint8Array(0))
    notJson.set(new TextEncoder().encode('{x'), 8)
    expectError(() => decodeEditFile(notJson, 'f'), 'file-corrupt', /not JSON/)
    const notUtf8 = rawFile({ a: 1 }, new Uint8Array(0))
    notUtf8[9] = 0xff
    expectError(() => decodeEditFile(notUtf8, 'f'), 'file-corrupt', /not UTF-8/)
    expectError(() => decodeEditFile(rawFile([1], data), 'f'), 'file-corrupt', /does not start with "\{"/)
    const gap = { t: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }
    expectError(
      () => decodeEditFile(rawFile(gap, data), 'f'),
      'file-corrupt',
      /starts at byte 4 .* ends at 0/,
    )
    const short = { t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }
    expectError(
      () => decodeEditFile(rawFile(short, data), 'f'),
      'file-corrupt',
      /cover 4 bytes but the data section holds 8/,
    )
    const sizes = { t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }
    expectError(
      () => decodeEditFile(rawFile(sizes, data), 'f'),
      'file-corrupt',
      /span 8 bytes but F32 \[3\] needs 12/,
    )
    const half = { t: { dtype: 'F16', shape: [4], data_offsets: [0, 8] } }
    expectError(() => decodeEditFile(rawFile(half, data), 'f'), 'unsupported-tensor-type', /dtype F16/)
    const metadata = { __metadata__: { format: 3 } }
    expectError(
      () => decodeEditFile(rawFile(metadata, new Uint8Array(0)), 'f'),
      'file-corrupt',
      /__metadata__\.format is not a string/,
    )
    expectError(
      () => decodeEditFile(rawFile({}, new Uint8Array(0)), 'f'),
      'file-corrupt',
      /format is undefined/,
    )
  })

  it('rejects manifests that disagree with the tensors or the schema', () => {
    const bytes = bytesOf(sampleEdit())
    type Entry = { tensors: Record<string, { name: string; shape: number[] }>; layer: number }
    const entries = (manifest: Record<string, unknown>) => manifest.interventions as Entry[]
    expectError(
      () =>
        decodeEditFile(
          withManifest(bytes, (m) => {
            m.version = 2
          }),
          'f',
        ),
      'file-corrupt',
      /manifest field "version"/,
    )
    expectError(
      () =>
        decodeEditFile(
          withManifest(bytes, (m) => {
            m.method = 'magic'
          }),
          'f',
        ),
      'file-corrupt',
      /manifest field "method"/,
    )
    expectError(
      () =>
        decodeEditFile(
          withManifest(bytes, (m) => {
            entries(m)[0]!.tensors.vector!.shape = [5]
          }),
          'f',
        ),
      'file-corrupt',
      /layers\.1\.resid_post\.0\.add\.vector is \[4\], the manifest says \[5\]/,
    )
    expectError(
      () =>
        decodeEditFile(
          withManifest(bytes, (m) => {
            entries(m).splice(1, 1)
          }),
          'f',
        ),
      'file-corrupt',
      /layers\.1\.resid_post\.1\.add\.vector are not referenced/,
    )
    expectError(
      () =>
        decodeEditFile(
          withManifest(bytes, (m) => {
            entries(m)[1]!.tensors.vector!.name = 'layers.1.resid_post.0.add.vector'
          }),
          'f',
        ),
      'file-corrupt',
      /referenced twice/,
    )
    expectError(
      () =>
        decodeEditFile(
          withManifest(bytes, (m) => {
            delete entries(m)[0]!.tensors.vector
          }),
          'f',
        ),
      'file-corrupt',
      /no tensor for "vector"/,
    )
    expectError(
      () =>
        decodeEditFile(
          withManifest(bytes, (m) => {
            entries(m)[0]!.layer = 3
          }),
          'f',
        ),
      'file-corrupt',
      /blocks 0…2/,
    )
    expectError(
      () =>
        decodeEditFile(
          withManifest(bytes, (m) => {
            ;(m.model as ModelFingerprint).hiddenSize = 5
          }),
          'f',
        ),
      'shape-mismatch',
      /expected \[5\]/,
    )
    const noMetadata = Uint8Array.from(
      encodeSafetensors(new Map(), { format: 'tiller-edit', version: '1', manifest: '{' }).flatMap((c) =>
        Array.from(c),
      ),
    )
    expectError(() => decodeEditFile(noMetadata, 'f'), 'file-corrupt', /not JSON/)
  })

  it('writes atomically and reports unreadable or unwritable paths', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'tiller-edit-'))
    const path = join(folder, 'edit.safetensors')
    writeFileSync(path, 'old')
    // The message names the file given, not the hidden temporary the atomic write failed on.
    await expect(writeEditFile(join(folder, 'missing', 'e.safetensors'), sampleEdit())).rejects.toThrow(
      `Cannot write ${join(folder, 'missing', 'e.safetensors')}: the folder ${join(folder, 'missing')} does not exist.`,
    )
    await writeEditFile(path, sampleEdit())
    expect(readdirSync(folder)).toEqual(['edit.safetensors'])
    expect((await readEditFile(path)).edit.notes).toBe('round trip')
    await expect(readEditFile(join(folder, 'absent.safetensors'))).rejects.toSatisfy((error) =>
      isTillerError(error, 'file-not-found'),
    )
    expect(existsSync(join(folder, 'missing'))).toBe(false)
  })
})
