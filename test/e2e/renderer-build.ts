import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The end-to-end run's global setup: build the renderer once, before any test file starts, when `out/renderer` is
 * missing or older than its sources (as `npm start` does). Files run in parallel; had each built for itself, two
 * builds would empty and rewrite `out/renderer` while another file's page loads it.
 */

const root = new URL('../../', import.meta.url).pathname
export const rendererDirectory = join(root, 'out', 'renderer')

/** Newest modification time of any file under `folder`. */
function newestChange(folder: string): number {
  let newest = 0
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestChange(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** Build the renderer when `out/renderer` is missing or older than its sources. */
export default function ensureRendererBuilt(): void {
  const index = join(rendererDirectory, 'index.html')
  const sources = Math.max(
    newestChange(join(root, 'src', 'renderer')),
    newestChange(join(root, 'src', 'shared')),
  )
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return
  const cli = join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js')
  const result = spawnSync(process.execPath, [cli, 'build'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  if (result.status !== 0) throw new Error('electron-vite build failed; run `npm run build` to see why.')
}
