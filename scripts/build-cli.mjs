/**
 * Compiles the `tiller` command line (src/main/cli) into plain JavaScript under `out/cli/`, so starting the CLI does
 * not compile TypeScript at run time. `npm ci` runs it (the `prepare` script); bin/tiller.mjs reruns it when a
 * source file changed since the build and falls back to running the TypeScript through tsx when it cannot build.
 *
 * The bundle splits at dynamic imports (each command stays a lazily loaded chunk) and leaves every package in
 * node_modules external. `import.meta.url` in each source file is replaced by that file's own URL, so code that
 * finds the checkout's resources or package.json relative to itself behaves exactly as when run from source.
 *
 * `manifest.json` beside the bundle lists every source file the bundle was built from with its size and
 * modification time; `isBuildFresh` compares them to the files on disk.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** The checkout this script belongs to. */
export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** Where `npm ci` and bin/tiller.mjs put the compiled CLI unless TILLER_CLI_BUILD names another folder. */
export const defaultBuildFolder = join(repositoryRoot, 'out', 'cli')
/** The compiled entry point inside a build folder; it exports `main(argv)` like src/main/cli/index.ts. */
export const entryFileName = 'tiller.mjs'
const manifestFileName = 'manifest.json'
const entrySource = join(repositoryRoot, 'src', 'main', 'cli', 'index.ts')
const thisScript = fileURLToPath(import.meta.url)

/** An esbuild plugin giving each TypeScript source its own `import.meta.url` (the bundle lives elsewhere). */
const sourceLocationPlugin = {
  name: 'tiller-source-location',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8')
      const url = JSON.stringify(pathToFileURL(args.path).href)
      return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' }
    })
  },
}

function fileStamp(path) {
  const stats = statSync(path)
  return { size: stats.size, mtimeMs: stats.mtimeMs }
}

/**
 * Builds the CLI into `buildFolder` (replacing what was there) and returns the number of source files it holds.
 * Throws when esbuild is missing or the sources do not compile.
 */
export async function buildCli(buildFolder = defaultBuildFolder) {
  const { build } = await import('esbuild')
  const staging = `${buildFolder}.staging-${process.pid}`
  rmSync(staging, { recursive: true, force: true })
  try {
    const result = await build({
      absWorkingDir: repositoryRoot,
      entryPoints: { tiller: entrySource },
      outdir: staging,
      outExtension: { '.js': '.mjs' },
      chunkNames: 'chunks/[name]-[hash]',
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      metafile: true,
      logLevel: 'silent',
      plugins: [sourceLocationPlugin],
    })
    const sources = [
      ...Object.keys(result.metafile.inputs).map((path) => resolve(repositoryRoot, path)),
      thisScript,
    ]
    const manifest = {
      entry: entryFileName,
      sources: sources.map((path) => ({ path: relative(repositoryRoot, path), ...fileStamp(path) })),
    }
    writeFileSync(join(staging, manifestFileName), JSON.stringify(manifest, null, 1) + '\n')
    // Swap the finished build in: a reader sees the old build or the new one, never a half-written folder.
    mkdirSync(dirname(buildFolder), { recursive: true })
    const retired = `${buildFolder}.retired-${process.pid}`
    if (existsSync(buildFolder)) renameSync(buildFolder, retired)
    renameSync(staging, buildFolder)
    rmSync(retired, { recursive: true, force: true })
    return manifest.sources.length
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

/** Whether `buildFolder` holds a build whose every source file is unchanged (same size and modification time). */
export function isBuildFresh(buildFolder = defaultBuildFolder) {
  let manifest
  try {
    manifest = JSON.parse(readFileSync(join(buildFolder, manifestFileName), 'utf8'))
  } catch {
    return false
  }
  if (manifest.entry !== entryFileName || !Array.isArray(manifest.sources)) return false
  for (const source of manifest.sources) {
    let stamp
    try {
      stamp = fileStamp(join(repositoryRoot, source.path))
    } catch {
      return false
    }
    if (stamp.size !== source.size || stamp.mtimeMs !== source.mtimeMs) return false
  }
  return existsSync(join(buildFolder, entryFileName))
}

// Run as a script (`npm ci` runs it as `prepare`): build, but never fail the install; the CLI falls back to tsx.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === thisScript) {
  try {
    const count = await buildCli()
    process.stdout.write(`tiller: compiled the CLI from ${count} source files into ${defaultBuildFolder}\n`)
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
    process.stderr.write(
      `tiller: could not compile the CLI (${reason}); it will run from TypeScript through tsx\n`,
    )
  }
}
