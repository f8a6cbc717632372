import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { recoverFolder, replaceFolderAtomic } from '../../src/main/core/workspace/folder-swap.ts'

const root = join(import.meta.dirname, '../..')
const child = join(import.meta.dirname, 'helpers', 'swap-child.ts')
const organism = join(root, 'resources/models/organism')

let parent: string
let target: string

beforeEach(() => {
  parent = mkdtempSync(join(tmpdir(), 'tiller-swap-'))
  target = join(parent, 'model')
})

afterEach(() => {
  rmSync(parent, { recursive: true, force: true })
})

/** Run the swap in a child process that is SIGKILLed right after `killAt`; returns the signal it died of. */
function swapKilledAt(killAt: string, label: string): NodeJS.Signals | null {
  const result = spawnSync(process.execPath, ['--import', 'tsx', child, target, killAt, label], {
    cwd: root,
    encoding: 'utf8',
  })
  if (result.signal === null && result.status !== 0) throw new Error(`swap child failed: ${result.stderr}`)
  return result.signal
}

/** The label of a complete folder at `target` (config.json and weights agree), or undefined when there is none. */
function completeLabel(): string | undefined {
  if (!existsSync(target)) return undefined
  const label = (JSON.parse(readFileSync(join(target, 'config.json'), 'utf8')) as { label: string }).label
  expect(readFileSync(join(target, 'weights.bin'))).toEqual(Buffer.alloc(4096, label))
  return label
}

async function writeOld(): Promise<void> {
  await replaceFolderAtomic(target, async (staging) => {
    writeFileSync(join(staging, 'config.json'), JSON.stringify({ label: 'o' }))
    writeFileSync(join(staging, 'weights.bin'), Buffer.alloc(4096, 'o'))
  })
}

/** Kill points in swap order, with the folder a replacement must leave after recovery. */
const killPoints = [
  { step: 'building', expected: 'o' },
  { step: 'staging-built', expected: 'o' },
  { step: 'staging-synced', expected: 'o' },
  { step: 'target-moved-aside', expected: 'o' },
  { step: 'staging-in-place', expected: 'n' },
  { step: 'previous-removed', expected: 'n' },
]

describe('a folder replacement killed at any point is recoverable', () => {
  for (const { step, expected } of killPoints) {
    it(`replacing an existing folder, killed after ${step}`, async () => {
      await writeOld()
      expect(swapKilledAt(step, 'n')).toBe('SIGKILL')
      if (step === 'target-moved-aside') {
        // The state the kill leaves: no folder, only hidden copies beside it.
        expect(existsSync(target)).toBe(false)
        expect(readdirSync(parent).filter((name) => name.endsWith('.previous'))).toHaveLength(1)
      }
      expect(recoverFolder(target)).toBe(step === 'target-moved-aside')
      expect(completeLabel()).toBe(expected)
      expect(readdirSync(parent)).toEqual(['model'])
    })
  }

  for (const step of ['building', 'staging-synced']) {
    it(`creating a new folder, killed after ${step}, leaves no folder and no hidden copy`, () => {
      expect(swapKilledAt(step, 'n')).toBe('SIGKILL')
      expect(readdirSync(parent).length).toBeGreaterThan(0)
      expect(recoverFolder(target)).toBe(false)
      expect(readdirSync(parent)).toEqual([])
    })
  }

  it('the next replacement into the same place repairs the interrupted one first', async () => {
    await writeOld()
    expect(swapKilledAt('target-moved-aside', 'n')).toBe('SIGKILL')
    expect(swapKilledAt('staging-synced', 'm')).toBe('SIGKILL')
    // The second run put the old folder back before its own (also killed) swap.
    expect(existsSync(target)).toBe(true)
    await replaceFolderAtomic(target, async (staging) => {
      writeFileSync(join(staging, 'config.json'), JSON.stringify({ label: 'x' }))
      writeFileSync(join(staging, 'weights.bin'), Buffer.alloc(4096, 'x'))
    })
    expect(completeLabel()).toBe('x')
    expect(readdirSync(parent)).toEqual(['model'])
  })

  it('opening a model whose re-import was killed between the renames loads the old model', async () => {
    cpSync(organism, target, { recursive: true })
    expect(swapKilledAt('target-moved-aside', 'n')).toBe('SIGKILL')
    expect(existsSync(target)).toBe(false)
    const model = await loadModel(target)
    try {
      expect(model.folder).toBe(target)
      expect(readdirSync(parent)).toEqual(['model'])
    } finally {
      await model.dispose()
    }
  })
})
