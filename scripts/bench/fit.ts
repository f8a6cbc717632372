/**
 * `npm run bench -- fit`: the fit-time and decode-time costs of the seed methods' performance targets in one run:
 *   1. SEA fit, 20 layers, width 4096, N = 1000 synthetic pairs (target ≤ 5 s on 2 cores)      → bench sea-fit
 *   2. HPR probes and angle networks, 5 layers, width 896, 20 k token pairs, 5 epochs (≤ 60 s) → bench hpr-train
 *   3. decode tokens/s with SEA or HPR on the last 5 layers vs unsteered, on the organism (≥ 0.9×): the synthetic
 *      edits of steer-rotations, and SEA (last 5 layers) and HPR (its defaults) fitted on the organism's
 *      truthfulness pairs                                                                       → bench steer-rotations
 * Each part prints its own measurements with the ratio or the target beside them.
 *
 * Options: --sea-strategy matrix-free|grams|both (matrix-free), --hpr-epochs E (5), --repeats R (5), --skip-hpr.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { writeEditFile } from '../../src/main/core/edits/edit-file.ts'
import { fitFromDemonstrations } from '../../src/main/core/fitting/fit-pipeline.ts'
import { organismModelDirectory } from '../../src/organism/organism-paths.ts'
import { run as hprTrain } from './hpr-train.ts'
import { run as seaFit } from './sea-fit.ts'
import { run as steerRotations } from './steer-rotations.ts'

/** Entry point for `npm run bench -- fit`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'sea-strategy': { type: 'string', default: 'matrix-free' },
      'hpr-epochs': { type: 'string', default: '5' },
      repeats: { type: 'string', default: '5' },
      'skip-hpr': { type: 'boolean', default: false },
    },
  })
  process.stdout.write('== 1. SEA fit (target ≤ 5 s on 2 cores)\n')
  await seaFit(['--strategy', values['sea-strategy']])
  if (values['skip-hpr']) {
    process.stdout.write('== 2. HPR training: skipped (--skip-hpr)\n')
  } else {
    process.stdout.write('== 2. HPR training (target ≤ 60 s)\n')
    await hprTrain(['--epochs', values['hpr-epochs']])
  }
  process.stdout.write(
    '== 3. steered decode on the organism, SEA and HPR on 5 layers (target ≥ 0.9× unsteered)\n',
  )
  // Steered graphs are compiled next to the weights: a scratch copy keeps the committed folder clean.
  const scratch = await mkdtemp(join(tmpdir(), 'tiller-bench-fit-'))
  try {
    const folder = join(scratch, 'organism')
    await cp(organismModelDirectory, folder, { recursive: true })
    const pairs = join(import.meta.dirname, '..', '..', 'resources', 'datasets', 'truthfulness.pairs.jsonl')
    const fits = [
      { method: 'sea', options: { layers: [1, 2, 3, 4, 5] } },
      { method: 'hpr', options: {} },
    ]
    const editFiles: string[] = []
    for (const { method, options } of fits) {
      const { edit, extras } = await fitFromDemonstrations({
        model: { folder },
        data: pairs,
        method,
        options,
      })
      const path = join(scratch, `${method}.safetensors`)
      await writeEditFile(path, edit, extras)
      editFiles.push('--edit', path)
    }
    await steerRotations(['--model', folder, '--repeats', values.repeats, ...editFiles])
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}
