/**
 * `npm run bench -- steer-rotations`: what the non-additive edits cost at decode time, measured side by side in one
 * run against the unsteered graph and an additive edit on the same layers:
 *   SEA     spectral, identity feature map, norm merge, keep and remove rank 64 (capped at width/4)
 *   Φ-SEA   spectral, squared-exponential feature map, same ranks
 *   HPR     householder with the paper's angle network (widths halving: d → d/2 → d/4 → d/8 → 1)
 * each at resid_post of the last 5 layers (SEA and HPR's usual site). Prints decode tokens/s and the ratio to the
 * unsteered graph; nothing is asserted.
 *
 * Method as in `steer`: greedy generation timed with 1 and N new tokens, decode time per token = (T_N − T_1)/(N − 1),
 * median over repeats, variants interleaved; the ratio is the median of the per-repeat ratios. Models: stories260K
 * imported from ../shared/fixtures and, unless --skip-large, a random ~30M-parameter Llama (hidden 512, 8 layers).
 * Options: --model DIR, --tokens N, --repeats R, --threads T, and --edit FILE (repeatable) to time fitted edit files
 * of the --model folder beside the synthetic ones (a fitted SEA keeps far fewer directions than the synthetic one).
 */
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Edit, Op } from '../../src/shared/edit.ts'
import { compileEdits } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import type { ExtraInputs } from '../../src/main/core/runtime/step-context.ts'
import { applyRuntimeOptions, benchmarkOptions } from './support/options.ts'
import { exportRandomLlama, exportStories, randomLlamaConfig, withScratchFolder } from './support/models.ts'
import { elapsedMilliseconds, median } from './support/timing.ts'
import { orthonormalize } from '../../src/main/core/linalg/gram-schmidt.ts'
import { readEditFile } from '../../src/main/core/edits/edit-file.ts'

const largeConfig = randomLlamaConfig({
  vocabSize: 16000,
  hiddenSize: 512,
  intermediateSize: 1536,
  numLayers: 8,
  maxPositionEmbeddings: 1024,
})

/** Deterministic values in [-scale, scale). */
function waves(length: number, seed: number, scale = 1): Float32Array {
  return Float32Array.from({ length }, (_, index) => scale * Math.sin(index * 12.9898 + seed * 78.233))
}

/**
 * `rank` orthonormal rows `[rank, width]`: Gram–Schmidt on deterministic pseudo-random vectors (phase-shifted
 * waves of one frequency span only two dimensions).
 */
function orthonormalRows(rank: number, width: number, seed: number): Float32Array {
  let state = seed >>> 0
  const vectors = Float32Array.from({ length: rank * width }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 4294967296 - 0.5
  })
  const { basis } = orthonormalize(vectors, rank, width)
  if (basis.length !== rank * width) throw new Error(`steer-rotations: ${rank} rows are not independent`)
  return basis
}

function spectralOp(width: number, phi: 'identity' | 'squared-exponential'): Op {
  const rank = Math.min(64, Math.floor(width / 4))
  return {
    kind: 'spectral',
    keep: orthonormalRows(rank, width, 1),
    keepRank: rank,
    remove: orthonormalRows(rank, width, 500),
    removeRank: rank,
    merge: 'norm',
    phi,
    phiMode: 'paper',
  }
}

function householderOp(width: number): Op {
  const widths = [width, Math.max(1, width / 2), Math.max(1, width / 4), Math.max(1, width / 8), 1].map(
    Math.floor,
  )
  return {
    kind: 'householder',
    probe: waves(width, 3),
    angleWidths: widths,
    angleWeights: widths
      .slice(1)
      .map((outputs, layer) =>
        waves(outputs * (widths[layer] ?? 1), 10 + layer, 1 / Math.sqrt(widths[layer] ?? 1)),
      ),
    angleBiases: widths.slice(1).map((outputs, layer) => waves(outputs, 20 + layer, 0.1)),
  }
}

function editOf(id: string, layers: number[], op: Op): Edit {
  return {
    version: 1,
    id,
    method: op.kind === 'householder' ? 'hpr' : op.kind === 'spectral' ? 'sea' : 'mean-diff',
    options: {},
    model: { architecture: 'llama', layers: 0, hiddenSize: 0, tokenizerHash: '', weightsHash: '' },
    interventions: layers.map((layer) => ({ layer, site: 'resid_post', positions: { kind: 'all' }, op })),
    created: new Date(0).toISOString(),
    notes: '',
  }
}

async function timeGeneration(
  model: LoadedModel,
  rows: number[][],
  tokens: number,
  extraInputs?: ExtraInputs,
) {
  // EOS is disabled (an id no model emits) so every run generates exactly `tokens` tokens.
  return elapsedMilliseconds(() =>
    generate(model, { rows, options: { maxTokens: tokens, temperature: 0, eosTokenIds: [-1] }, extraInputs }),
  )
}

/** A fitted edit as a benchmark variant: its method, layers and, for SEA, its ranks. */
async function fittedEdit(path: string): Promise<{ name: string; edit: Edit }> {
  const { edit } = await readEditFile(path)
  const layers = edit.interventions.map((intervention) => intervention.layer).join(',')
  const first = edit.interventions[0]?.op
  const ranks = first?.kind === 'spectral' ? `, ranks ${first.keepRank}+${first.removeRank}` : ''
  return { name: `fitted ${edit.method} (layers ${layers}${ranks})`, edit }
}

async function benchFolder(
  label: string,
  folder: string,
  tokens: number,
  repeats: number,
  editFiles: string[] = [],
): Promise<void> {
  const map = await locateHookSites(folder)
  const width = map.widths.resid_post
  const layers = Array.from(
    { length: Math.min(5, map.layers.length) },
    (_, index) => map.layers.length - 1 - index,
  )
  const edits: Array<{ name: string; op: Op }> = [
    { name: 'additive (reference)', op: { kind: 'add', vector: waves(width, 7, 0.1) } },
    { name: 'SEA (linear, norm merge)', op: spectralOp(width, 'identity') },
    { name: 'Φ-SEA (squared-exponential)', op: spectralOp(width, 'squared-exponential') },
    { name: 'HPR (angle network d→d/8→1)', op: householderOp(width) },
  ]
  const base = await loadModel(folder, { provider: 'cpu' })
  const variants: Array<{ name: string; model: LoadedModel; extraInputs?: ExtraInputs }> = [
    { name: 'unsteered', model: base },
  ]
  try {
    const stacks = edits.map(({ name, op }) => ({ name, edit: editOf(name, layers, op) }))
    for (const path of editFiles) stacks.push(await fittedEdit(path))
    for (const { name, edit } of stacks) {
      const compiled = await compileEdits(folder, [edit])
      const model = await loadModel(folder, { provider: 'cpu', graphFile: compiled.graphFile })
      variants.push({ name, model, extraInputs: steeringInputs(compiled, [1]) })
    }
    const prompt = [[base.config.bosTokenId ?? 1, 10, 11, 12, 13, 14, 15, 16]]
    const samples = variants.map(() => [] as number[])
    for (const variant of variants) await timeGeneration(variant.model, prompt, 4, variant.extraInputs)
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const [index, variant] of variants.entries()) {
        const one = await timeGeneration(variant.model, prompt, 1, variant.extraInputs)
        const many = await timeGeneration(variant.model, prompt, tokens, variant.extraInputs)
        samples[index]?.push((many - one) / (tokens - 1))
      }
    }
    const rates = samples.map((times) => 1000 / median(times))
    // The ratio is the median of each repeat's own ratio: the machine's speed drifts between repeats far more than
    // within one, where the variants run back to back.
    const plainTimes = samples[0] ?? []
    const ratios = samples.map((times) =>
      median(times.map((time, repeat) => (plainTimes[repeat] ?? time) / time)),
    )
    const lines = [`${label}: decode at resid_post of layers ${layers.join(', ')}`]
    variants.forEach((variant, index) => {
      const rate = rates[index] ?? 0
      lines.push(
        `  ${variant.name.padEnd(44)} ${rate.toFixed(1).padStart(8)} tokens/s   ratio ${(ratios[index] ?? 0).toFixed(3)}`,
      )
    })
    process.stdout.write(lines.join('\n') + '\n')
  } finally {
    for (const variant of variants) await variant.model.dispose()
  }
}

/** Entry point for `npm run bench -- steer-rotations`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...benchmarkOptions(5), edit: { type: 'string', multiple: true, default: [] } },
  })
  applyRuntimeOptions(values)
  const tokens = Number(values.tokens)
  const repeats = Number(values.repeats)
  const editFiles = values.edit.map((path) => resolve(path))
  if (values.model !== undefined)
    return benchFolder(values.model, resolve(values.model), tokens, repeats, editFiles)
  if (editFiles.length > 0)
    throw new Error('steer-rotations: --edit needs the --model folder it was fitted on')
  await withScratchFolder('tiller-bench-rotations-', async (scratch) => {
    const storiesFolder = join(scratch, 'stories260K')
    await exportStories(storiesFolder, 'builder')
    await benchFolder('stories260K (builder family)', storiesFolder, tokens, repeats)
    if (!values['skip-large']) {
      const largeFolder = join(scratch, 'random-30M')
      await exportRandomLlama(largeFolder, largeConfig)
      await benchFolder(
        'random ~30M Llama (builder family, hidden 512, 8 layers)',
        largeFolder,
        tokens,
        repeats,
      )
    }
  })
}
