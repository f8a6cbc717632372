import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Where the built pieces sit next to the main bundle (`out/main`): electron-vite writes the preload to
 * `out/preload` and the renderer to `out/renderer`.
 */
const mainDirectory = dirname(fileURLToPath(import.meta.url))

/** The built files the desktop app loads. */
export const builtPaths = {
  engineHost: join(mainDirectory, 'engine-host.js'),
  preload: join(mainDirectory, '..', 'preload', 'index.cjs'),
  rendererDirectory: join(mainDirectory, '..', 'renderer'),
  rendererIndex: join(mainDirectory, '..', 'renderer', 'index.html'),
}
