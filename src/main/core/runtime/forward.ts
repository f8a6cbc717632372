/**
 * One prefill pass over left-padded rows with an empty cache, fetching only the outputs asked for: the primitive
 * behind activation capture (hook outputs) and scoring (logits at every position).
 */
import type * as ort from 'onnxruntime-node'
import { graphOutputs } from '../models/graph-contract.ts'
import { TillerError } from '../errors.ts'
import { checkTokenIds, layoutRows, logitsToKeepFeed, prefillFeeds, requireExtraInputs } from './feeds.ts'
import { emptyCache } from './graph-io.ts'
import type { LoadedModel } from './model.ts'
import { paddingTokenId } from './model-config.ts'
import type { ExtraInputs, StepContext } from './step-context.ts'

/** Options of {@link forwardBatch}. */
export interface ForwardOptions {
  /** Graph outputs to fetch, e.g. `['logits']` or hook names; nothing else is copied out of the runtime. */
  fetch: string[]
  extraInputs?: ExtraInputs
  /**
   * Prompt tokens per row, for position policies (default: the whole row, as in a prefill). Teacher-forced text
   * passes fewer, so that edits at the last prompt token land where a generation would put them.
   */
  promptLengths?: readonly number[]
}

/** Outputs of a forward pass and how the rows were padded. */
export interface ForwardResult {
  /** Fetched outputs; per-position ones are `[batch, sequence, ...]` with row b's tokens in its last columns. */
  outputs: Record<string, ort.Tensor>
  /** Left padding of each row: row b's token i sits at column leftPadding[b] + i. */
  leftPadding: number[]
  /** Columns fed: the longest row's length. */
  sequence: number
}

/**
 * Run `rows` (token ids per row, `[batch][length]`) through the model once, left padded to the longest row.
 * Logits, when fetched, come back for every position (`[batch, sequence, vocab]`), even on graphs that can keep
 * only the last.
 */
export async function forwardBatch(
  model: LoadedModel,
  rows: number[][],
  options: ForwardOptions,
): Promise<ForwardResult> {
  const available = new Set(model.session.outputNames)
  for (const name of options.fetch) {
    if (!available.has(name)) {
      throw new TillerError(
        'invalid-argument',
        `${model.graphPath} has no output "${name}"; fetchable outputs are ${[...available].join(', ')}.`,
        { subject: name },
      )
    }
  }
  const layout = layoutRows(rows)
  checkTokenIds(rows, model.config.vocabSize)
  const promptLengths = options.promptLengths
  if (
    promptLengths !== undefined &&
    (promptLengths.length !== rows.length ||
      promptLengths.some(
        (length, row) => !Number.isInteger(length) || length < 1 || length > rows[row]!.length,
      ))
  ) {
    throw new TillerError(
      'internal',
      `Prompt lengths ${promptLengths.join(', ')} do not fit rows of ${rows.map((row) => row.length).join(', ')} tokens.`,
    )
  }
  const { graph } = model
  const feeds = prefillFeeds(layout, rows, paddingTokenId(model.config), graph)
  const past = emptyCache(graph.cache, layout.batch)
  graph.cache.pastNames.forEach((name, index) => {
    feeds[name] = past[index] as ort.Tensor
  })
  // ONNX Runtime runs the whole graph whatever is fetched: without logits in `fetch` (capture), the output
  // projection need only cover the last position.
  Object.assign(feeds, logitsToKeepFeed(graph, options.fetch.includes(graphOutputs.logits) ? 0 : 1))
  const context: StepContext = {
    step: 0,
    batch: layout.batch,
    sequence: layout.width,
    pastLength: 0,
    leftPadding: layout.leftPadding,
    promptLengths: promptLengths === undefined ? layout.promptLengths : [...promptLengths],
    isPrefill: true,
  }
  if (options.extraInputs !== undefined) Object.assign(feeds, options.extraInputs(context))
  requireExtraInputs(model.graphPath, graph, feeds)
  const outputs = await model.session.run(feeds, options.fetch)
  return { outputs, leftPadding: layout.leftPadding, sequence: layout.width }
}
