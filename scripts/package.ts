/**
 * `npm run package [-- --linux | --win]`: build the renderer and main bundles, then the installers with
 * electron-builder (scripts/packaging/desktop-build.ts). Packaging needs Electron's binary; when it is absent this
 * says so in one line and exits 1 (it never downloads: these machines are offline).
 */
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findElectronDist } from './electron-binary.mjs'
import { desktopBuildConfig } from './packaging/desktop-build.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

const dist = findElectronDist()
if (dist === null) {
  process.stderr.write(
    "tiller package: Electron's binary is not installed (no node_modules/electron/dist, no " +
      'ELECTRON_OVERRIDE_DIST_PATH); run `npx install-electron` while online, then `npm run package`.\n',
  )
  process.exit(1)
}

const electronVite = join(dirname(require.resolve('electron-vite/package.json')), 'bin', 'electron-vite.js')
const built = spawnSync(process.execPath, [electronVite, 'build'], { cwd: root, stdio: 'inherit' })
if (built.status !== 0) {
  process.stderr.write('tiller package: the build failed (see above).\n')
  process.exit(1)
}

const platforms = process.argv.slice(2)
const { build } = await import('electron-builder')
const artifacts = await build({
  projectDir: root,
  config: desktopBuildConfig(dist.folder),
  ...(platforms.includes('--linux') ? { linux: [] } : {}),
  ...(platforms.includes('--win') ? { win: [] } : {}),
})
process.stdout.write(`Built:\n${artifacts.map((path) => `  ${path}`).join('\n')}\n`)
