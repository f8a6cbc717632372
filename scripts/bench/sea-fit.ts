/**
 * `npm run bench -- sea-fit`: how long SEA's fit takes on synthetic activations of a 7B-sized problem.
 *
 * Default problem: 20 layers, width 4096, N = 1000 pairs (target ≤ 5 s on 2 cores), K⁺ = K⁻ = 0.99. Rows mimic
 * residual activations: a shared offset, a 64-dimensional structured part with decaying scales, and isotropic
 * noise; row i of the neutral, positive and negative matrices shares most of its structure (same prompt). To keep
 * memory small the same three matrices serve every layer (the fit reuses nothing across layers, so each layer
 * costs what distinct data would).
 * Prints the whole fit's time and one layer broken into its stages.
 *
 * Options: --layers L (20), --width D (4096), --rows N (1000), --threshold K (0.99), --noise S (0.3), --centering
 * (centre over samples: removes the dominant offset, so the spectrum is flatter and Lanczos needs more steps; the
 * stage breakdown stays uncentred).
 */
import { parseArgs } from 'node:util'
import type { ActivationSet } from '../../src/shared/activations.ts'
import { onnxProducts } from '../../src/main/core/linalg/onnx-products.ts'
import { leadingEigenpairs } from '../../src/main/core/linalg/gram-lanczos.ts'
import type { NeutralActivations } from '../../src/main/core/methods/method.ts'
import { fitSpectral } from '../../src/main/core/methods/spectral-fit.ts'
import { cutOff, singularSubspace } from '../../src/main/core/methods/spectral-subspace.ts'

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
      `${values.centering ? ', centred' : ''}\n`,
  )

  // One layer, stage by stage (the same steps fitSpectral takes).
  const products = onnxProducts()
  try {
    let gram: Float64Array = new Float64Array(0)
    const gramSeconds = await seconds(async () => {
      gram = await products.gram(neutralRows, neutralRows, rows, width)
    })
    let sideGram: Float64Array = new Float64Array(0)
    const sideGramSeconds = await seconds(async () => {
      sideGram = await products.gram(positiveRows, positiveRows, rows, width)
    })
    let steps = 0
    let count = 0
    const lanczosSeconds = await seconds(() => {
      const pairs = leadingEigenpairs(gram, sideGram, rows, {
        threshold,
        precision: 1e-6,
        cutOff: (found, total) => cutOff(found, threshold, 1e-6, total),
      })
      steps = pairs?.steps ?? 0
      count = pairs?.count ?? 0
    })
    const sideSeconds = await seconds(() =>
      singularSubspace(neutralRows, gram, positiveRows, rows, width, threshold, 1e-6, products),
    )
    process.stdout.write(
      `one layer: neutral Gram ${gramSeconds.toFixed(2)} s; per side: Gram ${sideGramSeconds.toFixed(2)} s, ` +
        `Lanczos ${lanczosSeconds.toFixed(2)} s (${steps} steps, k = ${count}), whole side ${sideSeconds.toFixed(2)} s\n`,
    )
  } finally {
    await products.release()
  }

  let ranks = ''
  const cpuBefore = process.cpuUsage()
  const total = await seconds(async () => {
    const fit = await fitSpectral('sea', activations, neutral, {
      site: 'resid_post',
      positiveVariance: threshold,
      negativeVariance: threshold,
      merge: 'norm',
      phi: 'identity',
      phiMode: 'paper',
      centering: values.centering,
    })
    const first = fit.diagnostics?.keepRank?.[0]?.value
    const second = fit.diagnostics?.removeRank?.[0]?.value
    ranks = `k⁺ = ${first}, k⁻ = ${second}`
  })
  const cpu = process.cpuUsage(cpuBefore)
  process.stdout.write(
    `whole fit: ${total.toFixed(2)} s wall for ${layerCount} layers (${(total / layerCount).toFixed(2)} s per layer; ` +
      `${ranks}); process CPU time ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (all threads); target ≤ 5 s wall\n`,
  )
}
