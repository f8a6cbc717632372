/**
 * Child process for folder-swap.test.ts: replaces `target` with a folder labelled `label` and kills itself with
 * SIGKILL right after `killAt` (a SwapStep, `building` for halfway through building, or `never`).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { replaceFolderAtomic } from '../../../src/main/core/workspace/folder-swap.ts'

const [target, killAt, label] = process.argv.slice(2) as [string, string, string]

function die(): void {
  process.kill(process.pid, 'SIGKILL')
}

await replaceFolderAtomic(
  target,
  async (staging) => {
    writeFileSync(join(staging, 'config.json'), JSON.stringify({ label }))
    if (killAt === 'building') die()
    writeFileSync(join(staging, 'weights.bin'), Buffer.alloc(4096, label))
  },
  (step) => {
    if (step === killAt) die()
  },
)
