// Where Electron's binary is on disk, without ever triggering its download: Electron 45 fetches the binary lazily
// the first time `require('electron')` resolves its path, so this only looks for the files (path.txt and dist/,
// or ELECTRON_OVERRIDE_DIST_PATH). Shared by `npm start` and `npm run package`.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)

/** The executable's name inside an Electron dist folder on this platform. */
function executableName(platform = process.platform) {
  if (platform === 'win32') return 'electron.exe'
  if (platform === 'darwin') return 'Electron.app/Contents/MacOS/Electron'
  return 'electron'
}

/** The Electron dist folder and executable when present on disk, else null. */
export function findElectronDist(environment = process.env) {
  const executable = executableName()
  const override = environment.ELECTRON_OVERRIDE_DIST_PATH
  if (override) {
    const candidate = join(override, executable)
    return existsSync(candidate) ? { folder: override, executable: candidate } : null
  }
  let packageFolder
  try {
    packageFolder = dirname(require.resolve('electron/package.json'))
  } catch {
    return null
  }
  const pathFile = join(packageFolder, 'path.txt')
  if (!existsSync(pathFile)) return null
  const folder = join(packageFolder, 'dist')
  const candidate = join(folder, readFileSync(pathFile, 'utf8').trim())
  return existsSync(candidate) ? { folder, executable: candidate } : null
}
