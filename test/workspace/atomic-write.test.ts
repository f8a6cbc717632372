import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  AtomicFileWriter,
  temporarySibling,
  writeFileAtomic,
  writeFileAtomicCreatingFolder,
} from '../../src/main/core/workspace/atomic-write.ts'
import { replaceFolderAtomic } from '../../src/main/core/workspace/folder-swap.ts'
import { readUserFile } from '../../src/main/core/workspace/read-file.ts'
import { isTillerError } from '../../src/main/core/errors.ts'

let folder: string

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'tiller-atomic-'))
})

afterEach(() => {
  rmSync(folder, { recursive: true, force: true })
})

describe('writeFileAtomic', () => {
  it('writes text, bytes and chunks in order, replacing an old file and leaving nothing beside it', async () => {
    const path = join(folder, 'file.bin')
    writeFileSync(path, 'old content')
    await writeFileAtomic(path, 'héllo')
    expect(readFileSync(path, 'utf8')).toBe('héllo')
    await writeFileAtomic(path, Uint8Array.of(1, 2, 3))
    expect([...readFileSync(path)]).toEqual([1, 2, 3])
    await writeFileAtomic(path, [Uint8Array.of(4), new Uint8Array(0), Uint8Array.of(5, 6)])
    expect([...readFileSync(path)]).toEqual([4, 5, 6])
    expect(readdirSync(folder)).toEqual(['file.bin'])
  })

  it('refuses a missing folder without creating it; the creating variant makes it', async () => {
    const path = join(folder, 'missing', 'file.txt')
    await expect(writeFileAtomic(path, 'x')).rejects.toThrow(/ENOENT/)
    expect(existsSync(join(folder, 'missing'))).toBe(false)
    await writeFileAtomicCreatingFolder(path, 'x')
    expect(readFileSync(path, 'utf8')).toBe('x')
  })

  it('names temporaries as hidden siblings in the same folder', () => {
    const path = join(folder, 'model.onnx')
    const first = temporarySibling(path)
    expect(first.startsWith(join(folder, '.model.onnx.'))).toBe(true)
    expect(first.endsWith('.partial')).toBe(true)
    expect(temporarySibling(path, 'staging').endsWith('.staging')).toBe(true)
    expect(temporarySibling(path)).not.toBe(first)
  })
})

describe('AtomicFileWriter', () => {
  it('writes at offsets and appears only on commit', () => {
    const path = join(folder, 'data.bin')
    const writer = new AtomicFileWriter(path)
    writer.write(Uint8Array.of(7, 8), 2)
    writer.write(Uint8Array.of(9), 0)
    expect(existsSync(path)).toBe(false)
    expect(writer.closed).toBe(false)
    writer.commit()
    expect(writer.closed).toBe(true)
    expect([...readFileSync(path)]).toEqual([9, 0, 7, 8])
    expect(() => writer.write(Uint8Array.of(1), 0)).toThrow(/already closed/)
    expect(readdirSync(folder)).toEqual(['data.bin'])
  })

  it('leaves nothing after abort', () => {
    const writer = new AtomicFileWriter(join(folder, 'data.bin'))
    writer.write(Uint8Array.of(1), 0)
    writer.abort()
    expect(readdirSync(folder)).toEqual([])
  })
})

describe('replaceFolderAtomic', () => {
  it('creates a folder, then replaces it whole', async () => {
    const target = join(folder, 'parent', 'model')
    await replaceFolderAtomic(target, async (staging) => {
      writeFileSync(join(staging, 'a.txt'), 'first')
    })
    expect(readdirSync(target)).toEqual(['a.txt'])
    await replaceFolderAtomic(target, async (staging) => {
      mkdirSync(join(staging, 'onnx'))
      writeFileSync(join(staging, 'onnx', 'b.txt'), 'second')
    })
    expect(readdirSync(target)).toEqual(['onnx'])
    expect(readFileSync(join(target, 'onnx', 'b.txt'), 'utf8')).toBe('second')
    expect(readdirSync(join(folder, 'parent'))).toEqual(['model'])
  })

  it('keeps the old folder and removes the staging one when building fails', async () => {
    const target = join(folder, 'model')
    mkdirSync(target)
    writeFileSync(join(target, 'keep.txt'), 'old')
    await expect(
      replaceFolderAtomic(target, async (staging) => {
        writeFileSync(join(staging, 'half.txt'), 'half')
        throw new Error('build failed')
      }),
    ).rejects.toThrow('build failed')
    expect(readdirSync(folder)).toEqual(['model'])
    expect(readdirSync(target)).toEqual(['keep.txt'])
  })
})

describe('readUserFile', () => {
  it('reads bytes, and names a missing file with what it is', async () => {
    const path = join(folder, 'set.jsonl')
    writeFileSync(path, 'abc')
    expect((await readUserFile(path, 'the demonstration file')).toString('utf8')).toBe('abc')
    const error: unknown = await readUserFile(join(folder, 'absent.jsonl'), 'the demonstration file').catch(
      (caught: unknown) => caught,
    )
    expect(isTillerError(error, 'file-not-found')).toBe(true)
    expect((error as Error).message).toContain(
      `Cannot read the demonstration file ${join(folder, 'absent.jsonl')}:`,
    )
  })
})
