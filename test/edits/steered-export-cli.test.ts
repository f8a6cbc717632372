import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeEditFile } from '../../src/main/core/edits/edit-file.ts'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import { cacheFolderVariable } from '../../src/main/core/workspace/cache-folders.ts'
import { runTiller, type CliRun } from '../helpers/cli.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'
import { editOf, randomVector } from '../compiler/support.ts'

/** `tiller export --onnx` from the command line: the folder it writes, --force, and one-line refusals. */

const work = mkdtempSync(join(tmpdir(), 'tiller-steered-export-cli-'))
const previousCache = process.env[cacheFolderVariable]

afterAll(() => {
  if (previousCache === undefined) delete process.env[cacheFolderVariable]
  else process.env[cacheFolderVariable] = previousCache
  rmSync(work, { recursive: true, force: true })
})

describe('tiller export --onnx on the command line', () => {
  let folder: string
  let other: string
  let editPath: string
  let digest: () => string

  beforeAll(async () => {
    process.env[cacheFolderVariable] = join(work, 'cache')
    folder = await buildTinyModel({ family: 'optimum', seed: 8 })
    other = await buildTinyModel({ family: 'optimum', seed: 9 })
    const fingerprint = await fingerprintModel(folder)
    editPath = join(work, 'cli.safetensors')
    const vector = randomVector(fingerprint.hiddenSize, 21)
    await writeEditFile(editPath, {
      ...editOf('cli', [
        { layer: 0, site: 'resid_post', positions: { kind: 'all' }, op: { kind: 'add', vector } },
      ]),
      model: fingerprint,
    })
    digest = () =>
      ['onnx/model.onnx', 'onnx/model.onnx_data']
        .map((file) =>
          createHash('sha256')
            .update(readFileSync(join(folder, file)))
            .digest('hex'),
        )
        .join(',')
  })
  afterAll(() => {
    rmSync(dirname(folder), { recursive: true, force: true })
    rmSync(dirname(other), { recursive: true, force: true })
  })

  /** A failed run: non-zero exit, one line on stderr matching `pattern`, nothing on stdout. */
  function expectOneLineError(run: CliRun, pattern: RegExp): void {
    expect(run.code).not.toBe(0)
    expect(run.stdout).toBe('')
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(run.stderr).toMatch(pattern)
  }

  it('writes the folder, refuses to overwrite it without --force, and leaves the source as it was', async () => {
    const before = digest()
    const out = join(work, 'cli-out')
    const args = ['export', '--edit', editPath, '--onnx', out, '--model', folder, '--strength', '-0.5']
    const first = await runTiller([...args, '--json'])
    expect(first.code).toBe(0)
    expect(JSON.parse(first.stdout)).toEqual({
      out,
      graph: 'onnx/model.onnx',
      dataFiles: ['onnx/model.onnx_data'],
      strength: -0.5,
    })
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>
    expect(config['transformers.js_config']).toMatchObject({ use_external_data_format: true })
    expectOneLineError(await runTiller(args), /already exists and is not empty.*--force/)
    const forced = await runTiller([...args, '--force', '--strength', '2'])
    expect(forced.code).toBe(0)
    expect(forced.stdout).toMatch(/at strength 2\n/)
    const record = JSON.parse(readFileSync(join(out, 'tiller-edit.json'), 'utf8')) as {
      strength: { value: number }
      masks: unknown[]
    }
    expect(record.strength.value).toBe(2)
    expect(record.masks).toHaveLength(1)
    expect(digest()).toBe(before)
  })

  it('refuses bad input with one line each', async () => {
    const out = join(work, 'refused')
    const model = ['--model', folder]
    expectOneLineError(
      await runTiller(['export', '--edit', join(work, 'missing.safetensors'), '--onnx', out, ...model]),
      /Cannot read .*missing\.safetensors/,
    )
    expectOneLineError(
      await runTiller(['export', '--edit', editPath, '--onnx', out, '--model', other]),
      /was fitted for another model: weightsHash differs/,
    )
    expectOneLineError(
      await runTiller([
        'export',
        '--edit',
        editPath,
        '--onnx',
        out,
        '--gguf',
        join(work, 'x.gguf'),
        ...model,
      ]),
      /exactly one of --gguf/,
    )
    expectOneLineError(
      await runTiller(['export', '--edit', editPath, '--onnx', folder, '--force', ...model]),
      /is or contains the model folder/,
    )
    expectOneLineError(
      await runTiller(['export', '--edit', editPath, '--onnx', out, '--strength', 'strong', ...model]),
      /--strength is "strong"/,
    )
    const assistant = join(work, 'assistant.safetensors')
    const fingerprint = await fingerprintModel(folder)
    await writeEditFile(assistant, {
      ...editOf('assistant', [
        {
          layer: 0,
          site: 'resid_post',
          positions: { kind: 'fromAssistantStart' },
          op: { kind: 'add', vector: randomVector(fingerprint.hiddenSize, 22) },
        },
      ]),
      model: fingerprint,
    })
    expectOneLineError(
      await runTiller(['export', '--edit', assistant, '--onnx', out, ...model]),
      /fromAssistantStart/,
    )
    expect(existsSync(out)).toBe(false)
  })
})
