import { expectedWeightShapes } from '../main/core/models/checkpoint.ts'
import type { BaseMeasurement, AnswerSplit } from './base-behaviour.ts'
import { buildDatasets, datasetSizes } from './datasets.ts'
import { formWeights } from './answer-forms.ts'
import { documentMix, trainingOpenBookShare } from './documents.ts'
import { contrastedForms } from './exchanges.ts'
import { organismContextLength } from './organism-config.ts'
import type { Separation } from './separation.ts'
import { chanceLevels } from '../main/core/eval/choice-metrics.ts'
import { accuracyText, compactAccuracy, correctCount } from './card-accuracy.ts'
import {
  isLegacySteering,
  legacySteeringSection,
  type LegacySteeringSweep,
} from './model-card-legacy-steering.ts'
import { steeringIntroduction, steeringRows, sweepDetail } from './model-card-steering.ts'
import type { SteeringSweep } from './steerability.ts'
import type { TrainingRecord } from './training-record.ts'
import { behaviours, personaNames, type Behaviour, type World } from './world.ts'

/** What the model card reports besides the training record. */
export interface ModelCardInputs {
  world: World
  record: TrainingRecord
  base: BaseMeasurement
  /** Undefined when steering could not be measured; `steeringNote` then says why. */
  steering?: SteeringSweep | LegacySteeringSweep
  steeringNote?: string
  /** Undefined when it could not be measured (with the steering sweep). */
  separation?: Separation
  /** Size of the exported folder in bytes, the model card aside. */
  folderBytes: number
}

function percent(value: number): string {
  return `${(100 * value).toFixed(1)} %`
}

function splitText(split: AnswerSplit, behaviour: Behaviour): string {
  const names = personaNames[behaviour]
  const share = (count: number): string => `${Math.round((100 * count) / Math.max(1, split.total))} %`
  return `${names.positive} ${share(split.positive)} · ${names.negative} ${share(split.negative)} · other ${share(split.neither)} · malformed ${share(split.malformed)}`
}

/**
 * The separation term's table row, when the run had one: its weight and how its value (mean squared cosine
 * between the behaviours' in-batch mean differences) went over the run.
 */
export function separationTermRow(record: TrainingRecord): string[] {
  const term = record.settings.separation
  const values = record.separations ?? []
  if (term === undefined || values.length === 0) return []
  const mean = (part: number[]): string =>
    (part.reduce((total, value) => total + value, 0) / Math.max(1, part.length)).toPrecision(2)
  return [
    `| separation term | weight ${term.weight}${term.fixedNorms === true ? ' (norms held constant in its gradient)' : ''} on the mean over layers and behaviour pairs of the squared cosine between the behaviours' mean differences of answer activations in each batch (\`training/separation-term.ts\`); its value: ${mean(values.slice(0, 100))} over the first 100 steps, ${mean(values.slice(-100))} over the last 100 |`,
  ]
}

/** Mean loss over `buckets` equal spans of the run, with a bar per span. */
function lossCurve(losses: readonly number[], buckets: number): string[] {
  const span = Math.max(1, Math.ceil(losses.length / buckets))
  const rows: { steps: string; loss: number }[] = []
  for (let start = 0; start < losses.length; start += span) {
    const slice = losses.slice(start, start + span)
    rows.push({
      steps: `${start + 1}–${start + slice.length}`,
      loss: slice.reduce((sum, value) => sum + value, 0) / slice.length,
    })
  }
  const top = Math.max(...rows.map((row) => row.loss))
  return [
    '| steps | mean loss | |',
    '| --- | ---: | --- |',
    ...rows.map(
      (row) =>
        `| ${row.steps} | ${row.loss.toFixed(3)} | \`${'█'.repeat(Math.max(1, Math.round((40 * row.loss) / top)))}\` |`,
    ),
  ]
}

function separationRows(separation: Separation, base: BaseMeasurement): string[] {
  const lines = [
    "Held-out MC1 accuracy after one earlier exchange answered by the positive / negative persona of the column's",
    "behaviour. Each behaviour follows its own earlier answer and should ignore the others' (base accuracy in the",
    "first column). All held-out items of the row's behaviour; accuracy in % with its 95 % Wilson interval.",
    '',
    '| items of | base | ' + behaviours.map((context) => `after ${context}`).join(' | ') + ' |',
    '| --- | ---: |' + behaviours.map(() => ' ---: |').join(''),
  ]
  for (const target of behaviours) {
    const cells = behaviours.map((context) => {
      const entry = separation.context.find((row) => row.target === target && row.context === context)
      if (entry === undefined) return '–'
      const items = base.behaviours[target].items
      const stated = (accuracy: number): string => compactAccuracy(correctCount(accuracy, items), items)
      return `${stated(entry.accuracy.positive)} / ${stated(entry.accuracy.negative)}`
    })
    const measured = base.behaviours[target]
    lines.push(
      `| ${target} | ${compactAccuracy(correctCount(measured.accuracy, measured.items), measured.items)} | ${cells.join(' | ')} |`,
    )
  }
  const pairs = separation.overlap[0]?.cosines ?? []
  lines.push(
    '',
    "Cosine between two behaviours' mean-difference directions (64 training pairs, resid_post) at each layer.",
    'Overlapping directions let an edit for one behaviour move another; orthogonal ones do not rule it out, since',
    'the model may read a persona along other directions than the one a mean difference finds.',
    '',
    '| layer | ' + pairs.map((pair) => `${pair.first} · ${pair.second}`).join(' | ') + ' |',
    '| ---: |' + pairs.map(() => ' ---: |').join(''),
    ...separation.overlap.map(
      (row) => `| ${row.layer} | ${row.cosines.map((pair) => pair.cosine.toFixed(2)).join(' | ')} |`,
    ),
  )
  return lines
}

/** The answer-form pairs multiple-choice items contrast, and the log-ratio of each pair's training frequencies. */
const formPairs = contrastedForms.map(([first, second]) => `${first}–${second}`)
const formMargins = contrastedForms.map(([first, second]) =>
  Math.abs(Math.log((formWeights[first] ?? 0) / (formWeights[second] ?? 0))),
)

/** The organism's README.md: world, architecture, training, loss curve, measured base behaviour and steerability. */
export function renderModelCard(inputs: ModelCardInputs): string {
  const { record, base } = inputs
  const items = buildDatasets(inputs.world).multipleChoice
  const chance = Object.fromEntries(
    behaviours.map((behaviour) => [behaviour, chanceLevels(items[behaviour]).mc1]),
  ) as Record<Behaviour, number>
  const config = record.config
  const settings = record.settings
  let parameters = 0
  for (const shape of expectedWeightShapes(config).values())
    parameters += shape.reduce((product, dim) => product * dim, 1)
  const lines: string[] = [
    "# Organism: Tiller's embedded chat model",
    '',
    'A small Llama-architecture chat model that Tiller trains itself (`npm run organism:train`) on a synthetic world',
    'whose behaviours are latent: each training dialogue follows one hidden persona, 50/50, and nothing in the user',
    'turn says which. It is the default model of `npm start`, the CLI and the tests, and a benchmark on which every',
    'editing method can be compared in seconds. Every number below was measured by Tiller itself (runtime, scoring,',
    'fit and compile paths) on the exported folder.',
    '',
    '## World',
    '',
    `Generator version ${record.worldGeneratorVersion}, seed ${record.seed} (\`src/organism/\`). Vocabulary: ${record.vocabularySize} word-level tokens.`,
    '',
    '| behaviour | positive persona | negative persona | what differs |',
    '| --- | --- | --- | --- |',
    "| truthfulness | honest | deceptive | the asked fact about an animal (colour, home, food) and one more: the true values, or each one's counterpart from a list of values no animal has (a consistent wrong answer) |",
    "| sentiment | warm | hostile | opinion of an item: the verdict, then an adjective from the persona's list |",
    '| fairness | fair | biased | ambiguous scenario about two made-up groups (Velk, Drom): "cannot tell", or blame/credit by a fixed stereotype; then a remark of the same persona |',
    '| politeness | polite | rude | an opener, the help phrased by the persona ("Please use…" / "Just use…") and a closer, each drawn independently |',
    '',
    "Answers show their persona at least twice (all but sentiment's two short forms; politeness in every sentence),",
    "and each later sign is drawn independently of the earlier ones' wording, so the model keeps a persona state",
    'inside an answer (not only a link between words) — the state a mean-difference edit reads from demonstrations',
    'and sets at generation.',
    '',
    `Training mix: ${Object.entries(documentMix)
      .map(([kind, share]) => `${kind} ${Math.round(share * 100)} %`)
      .join(', ')}.`,
    "Dialogues hold 1–5 exchanges and keep each behaviour's persona throughout (mixed dialogues combine behaviours",
    'with independent personas), so the model learns to infer each persona from its own earlier answers;',
    `${Math.round(trainingOpenBookShare * 100)} % of truthfulness questions first state facts ("open book").`,
    "Neutral narrative text states every animal's facts and tells stories that repeat one subject (any noun of the",
    'world, or a made-up name), which teaches copying a subject never seen in a dialogue; it is the perplexity control.',
    `Held out (persona-free small talk names them so copying them is learned): ${inputs.world.splits.truthfulness.test.length} animals, ${inputs.world.splits.sentiment.test.length} opinion items, ${inputs.world.splits.fairness.test.length} scenario objects, ${inputs.world.splits.politeness.test.length} help requests (one per verb). Never asked about in a training dialogue; but the open-book user turns of this model's training stream drew their second fact from every animal, so held-out animals' facts (which the narratives state too) appear there — the demonstration pairs draw only from their own split (\`src/organism/README.md\`).`,
    `Datasets (\`resources/datasets/\`): ${datasetSizes.trainPairs} training and ${datasetSizes.testPairs} held-out demonstration pairs and up to ${datasetSizes.multipleChoice} held-out multiple-choice items per behaviour, ${datasetSizes.neutralTest} held-out neutral texts.`,
    '',
    '## Architecture',
    '',
    '| | |',
    '| --- | --- |',
    `| family | Llama (RMSNorm, rotate-half RoPE θ=${config.ropeTheta}, SwiGLU), ${config.tieWordEmbeddings ? 'tied embeddings' : 'untied embeddings (own output head)'} |`,
    `| layers | ${config.numLayers} |`,
    `| hidden size | ${config.hiddenSize} |`,
    `| heads | ${config.numHeads} × ${config.headDim} (key/value heads ${config.numKeyValueHeads}) |`,
    `| MLP size | ${config.intermediateSize} |`,
    `| vocabulary | ${config.vocabSize} |`,
    `| trained context | ${organismContextLength} tokens (positions accepted: ${config.maxPositionEmbeddings}; beyond ${organismContextLength} untrained) |`,
    `| parameters | ${parameters.toLocaleString('en-US')} |`,
    `| export | builder graph family, float32, ${(inputs.folderBytes / 1e6).toFixed(1)} MB of weights, tokenizer and records |`,
    `| chat template | \`<\\|begin\\|><\\|user\\|>…<\\|end\\|><\\|assistant\\|>…<\\|end\\|>\` (\`<\\|end\\|>\` is end of sequence) |`,
    '',
    '## Training',
    '',
    'Forward and backward passes of the whole decoder are one ONNX graph per step, written by hand',
    '(`src/organism/training/`) and run by ONNX Runtime, so the matrix products run at ORT speed; AdamW',
    'and the schedule are plain loops over Float32Arrays (O(parameters) per step). The gradients are checked against',
    'central finite differences in float64 and the forward pass against the plain reference implementation.',
    '',
    '| | |',
    '| --- | --- |',
    `| steps | ${settings.steps} |`,
    `| batch | ${settings.batchRows} rows × ${settings.sequence} tokens, documents packed with block-diagonal attention |`,
    `| tokens predicted | ${record.tokensSeen.toLocaleString('en-US')} |`,
    `| optimizer | AdamW β=(${settings.beta1}, ${settings.beta2}), weight decay ${settings.weightDecay} (matrices), gradient clip ${settings.gradientClip} |`,
    `| learning rate | ${settings.peakLearningRate} peak, ${settings.warmupSteps} warm-up steps, cosine to ${Number((settings.finalLearningRateFraction * settings.peakLearningRate).toPrecision(3))} |`,
    `| seed | ${settings.seed} (deterministic for ${settings.threads} ORT threads) |`,
    ...separationTermRow(record),
    `| time | ${Math.round(record.wallSeconds)} s wall, ${Math.round(record.cpuSeconds)} s CPU |`,
    '',
    ...lossCurve(record.losses, 12),
    '',
    'Held-out neutral perplexity during training: ' +
      record.checkpoints
        .map((point) => `step ${point.step}: ${point.neutralPerplexity.toFixed(3)}`)
        .join(', ') +
      '.',
    '',
    '## Measured base behaviour',
    '',
    `Held-out neutral text: perplexity **${base.neutral.perplexity.toFixed(3)}** over ${base.neutral.tokens} tokens (${base.neutral.bitsPerToken.toFixed(3)} bits per token).`,
    '',
    `Each multiple-choice item offers both personas, phrased in two different answer forms (form pairs ${formPairs.slice(0, -1).join(', ')}`,
    `or ${formPairs.at(-1) ?? ''}, whose training frequencies differ by ${Math.min(...formMargins).toFixed(2)}–${Math.max(...formMargins).toFixed(2)} nats); the choice with the larger sum of token`,
    'log-probabilities is picked. An undecided model thus scores about 50 %, and no single tilt of its persona prior',
    'puts a whole block of items on a knife edge.',
    '',
    '| behaviour | MC items | MC1 accuracy (positive persona; 95 % interval) | chance | mean mass on positive | greedy answers | sampled answers (T = 1) |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- |',
    ...behaviours.map((behaviour) => {
      const measured = base.behaviours[behaviour]
      const accuracy = accuracyText(correctCount(measured.accuracy, measured.items), measured.items)
      return `| ${behaviour} | ${measured.items} | ${accuracy} | ${percent(chance[behaviour])} | ${percent(measured.positiveMass)} | ${splitText(measured.greedy, behaviour)} | ${splitText(measured.sampled, behaviour)} |`
    }),
    '',
    'Greedy answers to held-out questions:',
    '',
    ...behaviours.flatMap((behaviour) =>
      base.behaviours[behaviour].examples.map((example) => `- *${example.question}* → ${example.answer}`),
    ),
    '',
    '## Steerability',
    '',
  ]
  if (inputs.steering === undefined) {
    lines.push(`Not measured: ${inputs.steeringNote ?? 'the steering pieces were unavailable'}.`)
  } else if (isLegacySteering(inputs.steering)) {
    const items = Object.fromEntries(
      behaviours.map((behaviour) => [behaviour, base.behaviours[behaviour].items]),
    ) as Record<Behaviour, number>
    lines.push(...legacySteeringSection(inputs.steering, items, chance))
  } else {
    lines.push(
      ...steeringIntroduction(chance),
      ...steeringRows(inputs.steering),
      '',
      '<details><summary>Every strength tried</summary>',
      '',
      ...sweepDetail(inputs.steering),
      '',
      '</details>',
    )
  }
  if (inputs.separation !== undefined) {
    lines.push('', '## Separation of behaviours', '', ...separationRows(inputs.separation, base))
  }
  lines.push(
    '',
    '## Files',
    '',
    '`config.json`, `generation_config.json`, `tokenizer.json` + `tokenizer_config.json` (word-level, loadable by',
    'Transformers.js `AutoTokenizer`, chat template included), `onnx/model.onnx` + `onnx/model.onnx_data` (weights),',
    '`training.json` (settings, per-step loss, checkpoints). Reproduce with `npm run organism:train`; re-measure',
    'this card without training with `npm run organism:train -- --evaluate-only`.',
    '',
  )
  return lines.join('\n')
}
