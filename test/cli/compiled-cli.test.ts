import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildCli, entryFileName, isBuildFresh } from '../../scripts/build-cli.mjs'
import { implementedMethodIds } from '../../src/main/core/methods/index.ts'
import { sessionOptions, setIntraOpThreads } from '../../src/main/core/runtime/session.ts'
import { runTiller } from '../helpers/cli.ts'

/**
 * The compiled CLI (scripts/build-cli.mjs, what bin/tiller.mjs runs) against the TypeScript sources run through tsx:
 * same output and exit code. Each test builds into its own folder, so a stale out/cli/ never decides a result.
 */

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..')
const bin = join(root, 'bin', 'tiller.mjs')
let buildFolder: string

interface ProcessRun {
  status: number | null
  stdout: string
  stderr: string
}

function spawnNode(args: string[], environment: Record<string, string>): ProcessRun {
  const result = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...environment },
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** Runs the built entry point directly (no fallback possible), as bin/tiller.mjs would once it found it fresh. */
function runBuilt(args: string[]): ProcessRun {
  const entry = pathToFileURL(join(buildFolder, entryFileName)).href
  const script = `const { main } = await import(${JSON.stringify(entry)}); process.exitCode = await main(${JSON.stringify(args)})`
  return spawnNode(['--input-type=module', '-e', script], {})
}

function runSource(args: string[]): ProcessRun {
  return spawnNode([bin, ...args], { TILLER_CLI_SOURCE: '1' })
}

beforeAll(async () => {
  // Inside the checkout (out/ is ignored by git): the bundle resolves its packages from the checkout's node_modules.
  mkdirSync(join(root, 'out'), { recursive: true })
  buildFolder = join(mkdtempSync(join(root, 'out', 'cli-test-')), 'cli')
  expect(await buildCli(buildFolder)).toBeGreaterThan(10)
})
afterAll(() => rmSync(resolve(buildFolder, '..'), { recursive: true, force: true }))

describe('the compiled CLI', () => {
  it.each([[['--help']], [['generate', '--help']], [['no-such-command']]])(
    'prints what the TypeScript CLI prints for %j',
    (args) => {
      const built = runBuilt(args)
      const source = runSource(args)
      expect(built.stdout.length + built.stderr.length).toBeGreaterThan(0)
      expect(built).toEqual(source)
    },
  )

  it('finds the checkout (default model, package version) and ONNX Runtime exactly as the sources do', () => {
    const built = runBuilt(['doctor', '--json'])
    const source = runSource(['doctor', '--json'])
    expect(built.status).toBe(0)
    expect(built).toEqual(source)
    const report = JSON.parse(built.stdout) as { defaultModel: { path: string | null } }
    expect(report.defaultModel.path).toBe(join(root, 'resources', 'models', 'organism'))
  })

  it('generates the same tokens as the sources on the embedded model', () => {
    const args = ['generate', '--prompt', 'Once upon a time', '--max-tokens', '6', '--json']
    const parse = (run: ProcessRun) => {
      expect(run.status, run.stderr).toBe(0)
      const output = JSON.parse(run.stdout) as { text: string; tokens: number[]; finishReason: string }
      return { text: output.text, tokens: output.tokens, finishReason: output.finishReason }
    }
    const built = parse(runBuilt(args))
    expect(built.tokens.length).toBeGreaterThan(0)
    expect(built).toEqual(parse(runSource(args)))
  })

  it('is rebuilt by bin/tiller.mjs when a source file no longer matches the manifest', () => {
    const manifestPath = join(buildFolder, 'manifest.json')
    expect(isBuildFresh(buildFolder)).toBe(true)
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { sources: { mtimeMs: number }[] }
    const first = manifest.sources[0]
    if (first === undefined) throw new Error('the manifest lists no sources')
    first.mtimeMs -= 1000
    writeFileSync(manifestPath, JSON.stringify(manifest))
    expect(isBuildFresh(buildFolder)).toBe(false)
    const run = spawnNode([bin, '--help'], { TILLER_CLI_BUILD: buildFolder })
    expect(run).toEqual(runSource(['--help']))
    expect(isBuildFresh(buildFolder)).toBe(true)
  })
})

describe('tiller --help', () => {
  it("lists fit's methods exactly as the method registry names them", async () => {
    const run = await runTiller(['--help'])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`fit        fit an activation edit (${implementedMethodIds.join(', ')})`)
  })

  it('treats names of Object.prototype as unknown commands', async () => {
    const run = await runTiller(['constructor'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('unknown command "constructor"')
  })
})

describe('tiller --threads', () => {
  afterEach(() => setIntraOpThreads(undefined))

  it('sets the thread count of the sessions the command creates, wherever it stands', async () => {
    const run = await runTiller([
      'generate',
      '--threads=1',
      '--prompt',
      'Once upon a time',
      '--max-tokens',
      '2',
      '--json',
    ])
    expect(run.code, run.stderr).toBe(0)
    expect(sessionOptions('cpu').intraOpNumThreads).toBe(1)
  })

  it.each([['0'], ['two'], ['1.5']])('refuses --threads %s with a message', async (value) => {
    const run = await runTiller(['--threads', value, 'doctor'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('give a whole number of threads')
  })
})
