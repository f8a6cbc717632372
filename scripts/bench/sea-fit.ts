/**
 * `npm run bench -- sea-fit`: how long SEA's fit takes on synthetic activations of a 7B-sized problem.
 *
 * Default problem: 20 layers, width 4096, N = 1000 pairs (target ≤ 5 s on 2 cores), K⁺ = K⁻ = 0.99. Rows mimic
 * residual activations: a shared offset, a 64-dimensional structured part with decaying scales, and isotropic
 * noise; row i of the neutral, positive and negative matrices shares most of its structure (same prompt). To keep
 * memory small the same three matrices serve every layer (the fit reuses nothing across layers, so each layer
 * costs what distinct data would).
 * Runs the whole fit with each strategy side by side (matrix-free Lanczos, then the N×N Grams it replaced), prints
 * wall and process CPU time with the machine's load, and compares the two fits (ranks, projector difference).
 *
 * Options: --layers L (20), --width D (4096), --rows N (1000), --threshold K (0.99), --noise S (0.3), --centering
 * (centre over samples: removes the dominant offset, so the spectrum is flatter and Lanczos needs more steps),
 * --strategy both|matrix-free|grams (both).
 */
import { availableParallelism, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import type { ActivationSet } from '../../src/shared/activations.ts'
import type { MethodFit, NeutralActivations } from '../../src/main/core/methods/method.ts'
import { fitSpectral, type SpectralFitOptions } from '../../src/main/core/methods/spectral-fit.ts'

function generator(seed: number): () => number {
  let state = seed >>> 0
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform())
}

/**
 * Rows `[rows, width]`: offset + Σ_j (c_ij + d_ij) s_j b_j + noise, with the structure `basis` `[structure, width]`.
 * c_ij come from `sharedSeed` (the same for the three matrices: row i of each belongs to prompt i), d_ij and the
 * noise from `seed` (what differs between the neutral, positive and negative answers).
 */
function syntheticRows(
  rows: number,
  width: number,
  basis: Float32Array,
  structure: number,
  offset: Float32Array,
  noise: number,
  seed: number,
  sharedSeed = 2,
): Float32Array {
  const shared = generator(sharedSeed)
  const own = generator(seed)
  const values = new Float32Array(rows * width)
  for (let row = 0; row < rows; row++) {
    const target = values.subarray(row * width, (row + 1) * width)
    target.set(offset)
    for (let index = 0; index < structure; index++) {
      const weight = (shared() + 0.5 * own()) * 4 * Math.exp(-index / 16)
      const direction = basis.subarray(index * width, (index + 1) * width)
      for (let column = 0; column < width; column++) {
        target[column] = (target[column] as number) + weight * (direction[column] as number)
      }
    }
    for (let column = 0; column < width; column++) {
      target[column] = (target[column] as number) + noise * own()
    }
  }
  return values
}

async function seconds(run: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now()
  await run()
  return (performance.now() - start) / 1000
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      layers: { type: 'string', default: '20' },
      width: { type: 'string', default: '4096' },
      rows: { type: 'string', default: '1000' },
      threshold: { type: 'string', default: '0.99' },
      noise: { type: 'string', default: '0.3' },
      centering: { type: 'boolean', default: false },
      strategy: { type: 'string', default: 'both' },
    },
  })
  const layerCount = Number(values.layers)
  const width = Number(values.width)
  const rows = Number(values.rows)
  const threshold = Number(values.threshold)
  const structure = 64
  const gaussian = generator(1)
  const basis = Float32Array.from({ length: structure * width }, () => gaussian() / Math.sqrt(width))
  const offset = Float32Array.from({ length: width }, () => 0.5 * gaussian())
  const noise = Number(values.noise)
  const neutralRows = syntheticRows(rows, width, basis, structure, offset, noise, 2)
  const positiveRows = syntheticRows(rows, width, basis, structure, offset, noise, 3)
  const negativeRows = syntheticRows(rows, width, basis, structure, offset, noise, 4)
  const layers = Array.from({ length: layerCount }, (_, index) => index)
  const activations: ActivationSet = {
    site: 'resid_post',
    selector: 'last',
    layers,
    width,
    positive: layers.map(() => positiveRows),
    negative: layers.map(() => negativeRows),
    rows,
    exampleIds: Array.from({ length: rows }, (_, index) => `pair-${index}`),
    dataHash: '0'.repeat(64),
    model: {
      architecture: 'synthetic',
      layers: layerCount,
      hiddenSize: width,
      tokenizerHash: '0'.repeat(64),
      weightsHash: '0'.repeat(64),
    },
  }
  const neutral: NeutralActivations = {
    site: 'resid_post',
    layers,
    width,
    rows,
    values: layers.map(() => neutralRows),
  }
  process.stdout.write(
    `SEA fit: ${layerCount} layers, width ${width}, N = ${rows}, K± = ${threshold}` +
      `${values.centering ? ', centred' : ''}; load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores\n`,
  )
  const options: SpectralFitOptions = {
    site: 'resid_post',
    positiveVariance: threshold,
    negativeVariance: threshold,
    merge: 'norm',
    phi: 'identity',
    phiMode: 'paper',
    centering: values.centering,
  }
  const strategies: Array<'grams' | 'matrix-free'> =
    values.strategy === 'both' ? ['matrix-free', 'grams'] : [values.strategy as 'grams' | 'matrix-free']
  const fits = new Map<string, MethodFit>()
  for (const strategy of strategies) {
    let fit: MethodFit | undefined
    const cpuBefore = process.cpuUsage()
    const total = await seconds(async () => {
      fit = await fitSpectral('sea', activations, neutral, options, { strategy })
    })
    const cpu = process.cpuUsage(cpuBefore)
    const done = fit as MethodFit
    fits.set(strategy, done)
    const ranks = `k⁺ = ${done.diagnostics?.keepRank?.[0]?.value}, k⁻ = ${done.diagnostics?.removeRank?.[0]?.value}`
    const cpuSeconds = (cpu.user + cpu.system) / 1e6
    process.stdout.write(
      `${strategy.padEnd(11)} ${total.toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} s process CPU (all threads) for ` +
        `${layerCount} layers (${ranks}); CPU / ${availableParallelism()} cores = ` +
        `${(cpuSeconds / availableParallelism()).toFixed(2)} s against the 5 s target for 20 layers\n`,
    )
  }
  const sketched = fits.get('matrix-free')
  const exact = fits.get('grams')
  if (sketched !== undefined && exact !== undefined) {
    let largest = 0
    let sameRanks = true
    sketched.interventions.forEach((intervention, index) => {
      const other = exact.interventions[index]
      if (intervention.op.kind !== 'spectral' || other?.op.kind !== 'spectral') return
      sameRanks &&=
        intervention.op.keepRank === other.op.keepRank && intervention.op.removeRank === other.op.removeRank
      largest = Math.max(
        largest,
        projectorDistance(
          intervention.op.keep,
          intervention.op.keepRank,
          other.op.keep,
          other.op.keepRank,
          width,
        ),
        projectorDistance(
          intervention.op.remove,
          intervention.op.removeRank,
          other.op.remove,
          other.op.removeRank,
          width,
        ),
      )
    })
    process.stdout.write(
      `matrix-free vs grams: ranks ${sameRanks ? 'identical' : 'DIFFER'} at every layer; largest projector ` +
        `difference ‖P − P′‖_F = ${largest.toExponential(2)}\n`,
    )
  }
}

/** ‖U Uᵀ − V Vᵀ‖_F for orthonormal rows U `[first, width]`, V `[second, width]`: √(k + k′ − 2‖U Vᵀ‖²_F). */
function projectorDistance(
  first: Float32Array,
  firstRank: number,
  second: Float32Array,
  secondRank: number,
  width: number,
): number {
  let overlap = 0
  for (let i = 0; i < firstRank; i++) {
    for (let j = 0; j < secondRank; j++) {
      let dot = 0
      for (let column = 0; column < width; column++)
        dot += (first[i * width + column] as number) * (second[j * width + column] as number)
      overlap += dot * dot
    }
  }
  return Math.sqrt(Math.max(0, firstRank + secondRank - 2 * overlap))
}
