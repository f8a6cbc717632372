#!/usr/bin/env node
// `npm start`: the desktop app when Electron's binary is installed; otherwise browser mode on 127.0.0.1.
// Electron 45 downloads its binary lazily the first time `require('electron')` resolves its path, so this script
// only looks for the files (path.txt and dist/, or ELECTRON_OVERRIDE_DIST_PATH) and never loads the package.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findElectronDist } from './electron-binary.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

const usage = `Usage: npm start -- [options]

Options:
  --browser          serve the app in a browser even when Electron is installed
  --port N           browser mode's port (default: a free one)
  --no-open          print browser mode's URL without opening it
  --model DIR        load this model folder instead of the embedded default model
  --provider NAME    auto | cpu | cuda | dml (default auto)
  --help             show this text`

function fail(message) {
  process.stderr.write(`tiller start: ${message}\n`)
  process.exit(2)
}

function parseArguments(argv) {
  const options = { browser: false, port: 0, open: true, model: undefined, provider: 'auto' }
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]
    const value = () => {
      const next = argv[++index]
      if (next === undefined) fail(`${argument} needs a value.`)
      return next
    }
    if (argument === '--help' || argument === '-h') {
      process.stdout.write(usage + '\n')
      process.exit(0)
    } else if (argument === '--browser') options.browser = true
    else if (argument === '--no-open') options.open = false
    else if (argument === '--model') options.model = value()
    else if (argument === '--provider') {
      options.provider = value()
      if (!['auto', 'cpu', 'cuda', 'dml'].includes(options.provider))
        fail('--provider is auto, cpu, cuda or dml.')
    } else if (argument === '--port') {
      options.port = Number(value())
      if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
        fail('--port is a whole number from 0 to 65535.')
      }
    } else fail(`unknown option ${argument}; see --help.`)
  }
  return options
}

/** The Electron executable when it is present on disk, else null; never triggers a download. */
function findElectronBinary() {
  return findElectronDist()?.executable ?? null
}

/** Newest modification time of any file under `folder`. */
function newestChange(folder) {
  let newest = 0
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestChange(path) : statSync(path).mtimeMs)
  }
  return newest
}

function rendererIsCurrent() {
  const index = join(root, 'out', 'renderer', 'index.html')
  if (!existsSync(index)) return false
  const sources = Math.max(
    newestChange(join(root, 'src', 'renderer')),
    newestChange(join(root, 'src', 'shared')),
  )
  return statSync(index).mtimeMs >= sources
}

function build() {
  process.stdout.write('Building Tiller (electron-vite build)…\n')
  const cli = join(dirname(require.resolve('electron-vite/package.json')), 'bin', 'electron-vite.js')
  const result = spawnSync(process.execPath, [cli, 'build'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  if (result.status !== 0) fail('the build failed; run `npm run build` to see why.')
}

const options = parseArguments(process.argv.slice(2))
const electron = options.browser ? null : findElectronBinary()

if (electron !== null) {
  build()
  const environment = { ...process.env }
  delete environment.ELECTRON_RUN_AS_NODE
  const child = spawn(electron, [root], { cwd: root, stdio: 'inherit', env: environment })
  child.on('exit', (code) => process.exit(code ?? 0))
} else {
  if (!options.browser) {
    process.stdout.write(
      "Electron's binary is not installed, so Tiller opens in your browser instead (run `npx install-electron` " +
        'while online to get the desktop app).\n',
    )
  }
  if (!rendererIsCurrent()) build()
  const { register } = await import('tsx/esm/api')
  register()
  const { runBrowserMode } = await import('../src/main/server/main.ts')
  await runBrowserMode({
    rendererDirectory: join(root, 'out', 'renderer'),
    port: options.port,
    open: options.open,
    model: options.model,
    provider: options.provider,
  })
}
