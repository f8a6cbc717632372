/**
 * `npm run bench -- choice-scoring [--repeats N]`: does scoring one multiple-choice item per ONNX run cost more
 * than the compute it saves? On the organism's 480 held-out items it times, side by side, (a) the cached scorer
 * (`cached-choice-scorer.ts`: per item one prefill of the prompt and one pass over its choices on the copied
 * cache, two runs per item) and (b) the reference path (`multiple-choice.ts`: every prompt + choice as a full row,
 * 32 rows per run, no cache reuse). If (b) is not slower per item although it recomputes each prompt once per
 * choice, the per-run overhead dominates and batching several items per run would pay. CPU time is printed
 * besides wall time because the machine may be shared.
 */
import { cachedChoiceScorer } from '../../src/main/core/eval/cached-choice-scorer.ts'
import { runtimeForward } from '../../src/main/core/eval/forward-logits.ts'
import { evaluateMultipleChoice } from '../../src/main/core/eval/multiple-choice.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { buildDatasets } from '../../src/organism/datasets.ts'
import { encodeChoiceItems } from '../../src/organism/evaluation.ts'
import { readFolderTokenizer } from '../../src/organism/folder-tokenizer.ts'
import { organismModelDirectory, organismSeed } from '../../src/organism/organism-paths.ts'
import { behaviours, createWorld } from '../../src/organism/world.ts'
import { median } from './support/timing.ts'

interface Measured {
  wall: number
  cpu: number
}

async function measure(run: () => Promise<unknown>): Promise<Measured> {
  const cpuStart = process.cpuUsage()
  const start = performance.now()
  await run()
  const cpu = process.cpuUsage(cpuStart)
  return { wall: performance.now() - start, cpu: (cpu.user + cpu.system) / 1000 }
}

export async function run(args: string[]): Promise<void> {
  const repeatsIndex = args.indexOf('--repeats')
  const repeats = repeatsIndex < 0 ? 3 : Number(args[repeatsIndex + 1])
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error('--repeats must be a whole number ≥ 1')
  const datasets = buildDatasets(createWorld(organismSeed))
  const tokenizer = await readFolderTokenizer(organismModelDirectory)
  const items = encodeChoiceItems(
    tokenizer,
    behaviours.flatMap((behaviour) => datasets.multipleChoice[behaviour]),
  )
  const rows = items.reduce((total, item) => total + item.choices.length, 0)
  const model = await loadModel(organismModelDirectory, { provider: 'cpu' })
  try {
    const cached = cachedChoiceScorer(model)
    const forward = runtimeForward(model)
    // One warm-up of each path, so session warm-up is not counted.
    await cached(items.slice(0, 4), [0])
    await evaluateMultipleChoice(forward, items.slice(0, 4), { batchSize: 32 })
    const cachedRuns: Measured[] = []
    const batchedRuns: Measured[] = []
    for (let repeat = 0; repeat < repeats; repeat++) {
      cachedRuns.push(await measure(() => cached(items, [0])))
      batchedRuns.push(await measure(() => evaluateMultipleChoice(forward, items, { batchSize: 32 })))
    }
    const line = (name: string, runs: number, measured: Measured[]): string => {
      const wall = median(measured.map((entry) => entry.wall))
      const cpu = median(measured.map((entry) => entry.cpu))
      return `${name.padEnd(44)} ${String(runs).padStart(5)} runs  ${(wall / items.length).toFixed(2).padStart(7)} ms wall/item  ${(cpu / items.length).toFixed(2).padStart(7)} ms CPU/item`
    }
    process.stdout.write(
      `${items.length} items, ${rows} choices, median of ${repeats}\n` +
        `${line('cached scorer (2 runs per item)', 2 * items.length, cachedRuns)}\n` +
        `${line('reference, 32 full rows per run (no cache)', Math.ceil(rows / 32), batchedRuns)}\n`,
    )
  } finally {
    await model.dispose()
  }
}
