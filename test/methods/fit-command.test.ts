import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gguf } from '@huggingface/gguf'
import { beforeAll, describe, expect, it } from 'vitest'
import { hashDemonstrations } from '../../src/main/core/data/hash.ts'
import { parseDemonstrations } from '../../src/main/core/data/jsonl.ts'
import { readEditFile } from '../../src/main/core/edits/edit-file.ts'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import { isTillerError } from '../../src/main/core/errors.ts'
import type { ModelFingerprint } from '../../src/shared/edit.ts'
import { norm } from '../../src/shared/vectors.ts'
import { contrastPairs } from '../../src/main/core/data/pairs.ts'
import { renderPairs } from '../../src/main/core/data/render.ts'
import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import { runTiller as run } from '../helpers/cli.ts'
import { referenceMeanDifference } from '../helpers/reference-steering.ts'
import { buildTinyModel, tinyCheckpoint, tinyConfig } from '../helpers/tiny-models.ts'

const rows = [
  { id: 'q1', prompt: 'Is fire hot?\n(A) yes (B) no', positive: '(A)', negative: '(B)' },
  { id: 'q2', prompt: 'Is ice hot?\n(A) yes (B) no', positive: '(B)', negative: '(A)' },
  { id: 'q3', prompt: 'Is snow cold?\n(A) no (B) yes', positive: '(B)', negative: '(A)' },
  { id: 'q4', prompt: 'Is tea wet?\n(A) yes (B) no', positive: '(A)', negative: '(B)', split: 'test' },
]

let folder: string
let work: string
let data: string
let fingerprint: ModelFingerprint

/** `tiller fit --method <method>` on the tiny model and the pairs, on the CPU, writing `out`. */
function fitArgs(method: string, out: string, ...extra: string[]): string[] {
  return [
    'fit',
    '--method',
    method,
    '--model',
    folder,
    '--data',
    data,
    '--out',
    out,
    '--provider',
    'cpu',
    ...extra,
  ]
}

beforeAll(async () => {
  folder = await buildTinyModel({ family: 'builder' })
  work = mkdtempSync(join(tmpdir(), 'tiller-fit-'))
  data = join(work, 'pairs.jsonl')
  writeFileSync(data, rows.map((row) => JSON.stringify(row)).join('\n') + '\n')
  fingerprint = await fingerprintModel(folder)
})

describe('tiller fit and tiller export', () => {
  it('fits CAA end to end into an edit file stamped with the model, dataset and template', async () => {
    const out = join(work, 'caa.safetensors')
    const { code, output } = await run(fitArgs('caa', out, '--layers', '1', '--json'))
    expect(code, output).toBe(0)
    expect(JSON.parse(output)).toMatchObject({ method: 'caa', layers: [1], interventions: 1, pairs: 3 })
    const { edit, manifest } = await readEditFile(out, fingerprint)
    expect(fingerprint).toMatchObject({ layers: tinyConfig.numLayers, hiddenSize: tinyConfig.hiddenSize })
    expect(edit.model).toEqual(fingerprint)
    const [intervention] = edit.interventions
    expect([intervention!.layer, intervention!.site, intervention!.positions.kind]).toEqual([
      1,
      'resid_post',
      'fromAssistantStart',
    ])
    if (intervention!.op.kind !== 'add') throw new Error('expected add')
    expect(intervention!.op.vector.length).toBe(tinyConfig.hiddenSize)
    // Reference: the plain Float32Array forward pass of the same checkpoint, resid_post[1] at each answer letter.
    const set = parseDemonstrations(readFileSync(data), data).set
    const rendered = renderPairs(contrastPairs(set, 'train'), await loadRenderTokenizer(folder), data, {
      requireAnswerLetter: true,
    })
    const width = tinyConfig.hiddenSize
    const expected = referenceMeanDifference(tinyCheckpoint({}), rendered.examples, 1, (side) => [
      side.answerLetter!,
    ])
    const scale = Math.max(...expected.map(Math.abs))
    expect(scale).toBeGreaterThan(0)
    for (let column = 0; column < width; column++) {
      expect(Math.abs(intervention!.op.vector[column]! - expected[column]!)).toBeLessThan(1e-4 * scale)
    }
    expect(manifest.dataset).toEqual(hashDemonstrations(set))
    expect(manifest.chatTemplate?.kind).toBe('chat-template')
    expect(manifest.notes).toContain('fitted on 3 pairs')
  })

  it('fits pca-diff and exports it as a control vector whose directions equal the edit bit for bit', async () => {
    const out = join(work, 'pca.safetensors')
    const fitted = await run(fitArgs('pca-diff', out, '--layers', '1', '--option', 'scale=unit'))
    expect(fitted.code, fitted.output).toBe(0)
    const file = join(work, 'pca.gguf')
    const exported = await run(['export', '--edit', out, '--gguf', file, '--json'])
    expect(exported.code, exported.output).toBe(0)
    expect(JSON.parse(exported.output)).toEqual({
      out: file,
      layers: [1],
      modelHint: fingerprint.architecture,
    })
    const parsed = await gguf(file, { allowLocalFile: true })
    expect(parsed.tensorInfos.map((info) => info.name)).toEqual(['direction.1'])
    const { edit } = await readEditFile(out)
    const op = edit.interventions[0]!.op
    if (op.kind !== 'add') throw new Error('expected add')
    expect(norm(op.vector)).toBeCloseTo(1, 5)
    const bytes = readFileSync(file)
    const start = Number(parsed.tensorDataOffset + parsed.tensorInfos[0]!.offset)
    expect(
      Buffer.compare(bytes.subarray(start, start + 4 * op.vector.length), Buffer.from(op.vector.buffer)),
    ).toBe(0)
    // A path in a folder that does not exist is one line, not an ENOENT stack trace.
    const nowhere = await run(['export', '--edit', out, '--gguf', '/nonexistent/x.gguf'])
    expect(nowhere.code).toBe(1)
    expect(nowhere.output).toBe(
      'tiller export: Cannot write the control vector /nonexistent/x.gguf: the folder /nonexistent does not exist.\n',
    )
  })

  it('generates with the exported .gguf as with the edit file, at negative strengths, and refuses a strength that overflows', async () => {
    const out = join(work, 'steer.safetensors')
    expect((await run(fitArgs('pca-diff', out, '--layers', '1'))).code).toBe(0)
    const vector = join(work, 'steer.gguf')
    expect((await run(['export', '--edit', out, '--gguf', vector])).code).toBe(0)
    const generateWith = (edit: string, strength: string) =>
      run([
        'generate',
        '--model',
        folder,
        '--provider',
        'cpu',
        '--prompt',
        'Is fire hot?',
        '--max-tokens',
        '4',
        '--temperature',
        '0',
        '--edit',
        edit,
        '--strength',
        strength,
        '--json',
      ])
    const tokensOf = (output: string) => (JSON.parse(output) as { generatedTokens: number[] }).generatedTokens
    for (const strength of ['-4', '6']) {
      const fromEdit = await generateWith(out, strength)
      expect(fromEdit.code, fromEdit.output).toBe(0)
      const fromVector = await generateWith(vector, strength)
      expect(fromVector.code, fromVector.output).toBe(0)
      expect(tokensOf(fromVector.output)).toEqual(tokensOf(fromEdit.output))
    }
    // Float32 overflows at this strength: the logits are NaN, and no token may silently become token 0.
    const overflow = await generateWith(vector, '1e38')
    expect(overflow.code).toBe(1)
    expect(overflow.output).toMatch(
      /^tiller generate: At strength 1e\+38 of the edits, the steered model's logits are (NaN|all 0) at new token 1 \(row 0\), so no token can be chosen: the edit drives the activations out of range\. Lower the strength\.\n$/,
    )
  })

  it('fits ablation (every block, three sites) and ActAdd (raw, padded), and export refuses them with the reason', async () => {
    const ablation = join(work, 'ablation.safetensors')
    expect((await run(fitArgs('ablation', ablation))).code).toBe(0)
    const ablationEdit = (await readEditFile(ablation, fingerprint)).edit
    expect(ablationEdit.interventions).toHaveLength(tinyConfig.numLayers * 3)
    const refused = await run(['export', '--edit', ablation, '--gguf', join(work, 'ablation.gguf')])
    expect(refused.code).toBe(1)
    expect(refused.output).toMatch(
      /cannot be written as a llama\.cpp control vector: llama\.cpp only adds vectors, this is project/,
    )

    const actadd = join(work, 'actadd.safetensors')
    const fitted = await run(fitArgs('actadd', actadd, '--layers', '0', '--coefficient', '2'))
    expect(fitted.code, fitted.output).toBe(0)
    const actaddEdit = (await readEditFile(actadd, fingerprint)).edit
    const op = actaddEdit.interventions[0]!.op
    if (op.kind !== 'addAt') throw new Error('expected addAt')
    expect(actaddEdit.interventions[0]!.positions).toEqual({ kind: 'promptPrefix', count: op.count })
    // Both sides start with the same BOS token, so the first row of the steering tensor is exactly zero.
    expect(Array.from(op.vectors.subarray(0, tinyConfig.hiddenSize)).every((value) => value === 0)).toBe(true)
    expect(actaddEdit.options).toEqual({ layers: [0], coefficient: 2 })
  })

  it('passes method options through --option NAME=VALUE (SADI-HIDDEN here) and names bad ones', async () => {
    const sadi = join(work, 'sadi.safetensors')
    const fitted = await run(
      fitArgs('sadi', sadi, '--option', 'variant=hidden', '--option', 'topK=3', '--option', 'rank=absolute'),
    )
    expect(fitted.code, fitted.output).toBe(0)
    const edit = (await readEditFile(sadi, fingerprint)).edit
    expect(edit.options).toMatchObject({ variant: 'hidden', topK: 3, rank: 'absolute' })
    expect(edit.interventions.every((entry) => entry.site === 'mlp_out')).toBe(true)
    const masked = edit.interventions.reduce(
      (total, entry) =>
        total + (entry.op.kind === 'scale' ? entry.op.factors.filter((value) => value === 9).length : 0),
      0,
    )
    expect(masked).toBe(3)
    const zero = await run(fitArgs('sadi', sadi, '--option', 'topK=0'))
    expect(zero.code).toBe(1)
    expect(zero.output).toMatch(/sadi: option "topK"/)
    const shapeless = await run(fitArgs('iti', sadi, '--option', 'topHeads'))
    expect(shapeless.output).toMatch(/--option is "topHeads"; write it as NAME=VALUE/)
  })

  it('refuses bad input with a message naming it', async () => {
    const bad = join(work, 'bad.jsonl')
    writeFileSync(bad, '{"id":"a","prompt":"p","positive":"","negative":"b"}\n')
    const invalid = await run([
      'fit',
      '--method',
      'caa',
      '--model',
      folder,
      '--data',
      bad,
      '--out',
      join(work, 'x.safetensors'),
    ])
    expect(invalid.code).toBe(1)
    expect(invalid.output).toContain(`${bad}:1: "positive" is empty`)
    const unknown = await run([
      'fit',
      '--method',
      'sea-lion',
      '--data',
      data,
      '--out',
      join(work, 'x.safetensors'),
    ])
    expect(unknown.output).toMatch(/Unknown method "sea-lion"/)
    await expect(
      readEditFile(join(work, 'caa.safetensors'), { ...fingerprint, weightsHash: '0'.repeat(64) }),
    ).rejects.toSatisfy(
      (error) =>
        isTillerError(error, 'model-mismatch') && /weightsHash differs/.test((error as Error).message),
    )
  })
})
