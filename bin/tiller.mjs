#!/usr/bin/env node
// The `tiller` command. Runs the compiled CLI in out/cli/ (see scripts/build-cli.mjs), recompiling it first when a
// source file changed since the last build; when it cannot compile (no esbuild), or TILLER_CLI_SOURCE=1 asks for
// it, runs the TypeScript sources through tsx instead. TILLER_CLI_BUILD names another build folder.
import { pathToFileURL } from 'node:url'
import { buildCli, defaultBuildFolder, entryFileName, isBuildFresh } from '../scripts/build-cli.mjs'

async function compiledMain() {
  const folder = process.env.TILLER_CLI_BUILD || defaultBuildFolder
  if (!isBuildFresh(folder)) {
    try {
      await buildCli(folder)
    } catch {
      return null
    }
  }
  try {
    const module = await import(pathToFileURL(`${folder}/${entryFileName}`).href)
    return module.main
  } catch {
    // Another process swapping in a newer build at this very moment: run from source this time.
    return null
  }
}

async function sourceMain() {
  const { register } = await import('tsx/esm/api')
  register()
  const module = await import('../src/main/cli/index.ts')
  return module.main
}

const main = (process.env.TILLER_CLI_SOURCE !== '1' && (await compiledMain())) || (await sourceMain())
process.exitCode = await main(process.argv.slice(2))
