/**
 * The generation loop: one prefill pass over left-padded prompt rows, then one `session.run` per new token with the
 * KV cache fed back as-is (presents become the next step's pasts, float16 bits untouched).
 *
 * Rows are independent: each has its own sampler seeded from `seed`, its own stop state and text. A row that
 * finished keeps stepping (its token and logits are ignored), so every step has the same batch and the cache never
 * needs compacting; its result is final from the step it finished.
 */
import type * as ort from 'onnxruntime-node'
import type { FinishReason } from '../../../shared/generation.ts'
import { graphOutputs } from '../models/graph-contract.ts'
import { TillerError } from '../errors.ts'
import {
  checkTokenIds,
  decodeFeeds,
  layoutRows,
  logitsToKeepFeed,
  prefillFeeds,
  requireExtraInputs,
  type BatchLayout,
} from './feeds.ts'
import {
  resolveGenerationOptions,
  type GenerationOptions,
  type ResolvedGenerationOptions,
} from './generation-options.ts'
import { emptyCache } from './graph-io.ts'
import { LogitsRows } from './logits.ts'
import { decodeSessionOf, type LoadedModel } from './model.ts'
import { paddingTokenId } from './model-config.ts'
import { RowSampler } from './sampling.ts'
import type { ExtraInputs, StepContext } from './step-context.ts'
import { TextStream } from './text-stream.ts'

/** Re-exported so callers of `generate` need one import. */
export type { GenerationOptions } from './generation-options.ts'
/** Why a row stopped (the contract's type, shared with clients). */
export type { FinishReason } from '../../../shared/generation.ts'

/** A token as it is generated; `text` is the newly final text of the row (often empty at a stop-string prefix). */
export interface TokenEvent {
  row: number
  token: number
  text: string
}

/** What to generate. */
export interface GenerationRequest {
  /** Prompt token ids per row (special tokens included as the model expects them, e.g. BOS). */
  rows: number[][]
  options: GenerationOptions
  onToken?: (event: TokenEvent) => void
  /** Aborting stops before the next step; rows still running finish with 'cancelled'. */
  signal?: AbortSignal
  /** Inputs the graph needs beyond the decoder contract, computed per step. */
  extraInputs?: ExtraInputs
}

/** One row's outcome. */
export interface GenerationResult {
  /** Prompt then generated ids. */
  tokens: number[]
  /** Generated ids (the EOS token included when it ended the row). */
  generated: number[]
  /** Decoded generated text, special tokens skipped, cut before a stop string. */
  text: string
  finishReason: FinishReason
  /** Number of prompt tokens at the start of `tokens`. */
  promptTokens: number
  timing: {
    /** The prefill pass (shared by all rows), which also yields the first token. */
    prefillMs: number
    /** From the end of prefill until this row finished. */
    decodeMs: number
    /** Decode rate: tokens after the first per decode second (all tokens over total time for 1-token runs). */
    tokensPerSecond: number
  }
}

interface RowState {
  generated: number[]
  finishReason: FinishReason | undefined
  finishedAt: number
}

function checkContext(model: LoadedModel, layout: BatchLayout, maxTokens: number): void {
  const limit = model.config.maxPositionEmbeddings
  layout.promptLengths.forEach((length, row) => {
    if (length + maxTokens > limit) {
      throw new TillerError(
        'prompt-too-long',
        `rows[${row}] has ${length} prompt tokens and asks for ${maxTokens} more, but the model's context ` +
          `(max_position_embeddings) is ${limit}; shorten the prompt or lower maxTokens to ${Math.max(0, limit - length)}.`,
        { subject: `rows[${row}]` },
      )
    }
  })
}

function stepFeeds(
  model: LoadedModel,
  request: GenerationRequest,
  layout: BatchLayout,
  context: StepContext,
  nextTokens: number[],
  past: ort.Tensor[],
): Record<string, ort.Tensor> {
  const { graph } = model
  const feeds = context.isPrefill
    ? prefillFeeds(layout, request.rows, paddingTokenId(model.config), graph)
    : decodeFeeds(layout, nextTokens, context.pastLength, graph)
  graph.cache.pastNames.forEach((name, index) => {
    feeds[name] = past[index] as ort.Tensor
  })
  Object.assign(feeds, logitsToKeepFeed(graph, 1))
  if (request.extraInputs !== undefined) Object.assign(feeds, request.extraInputs(context))
  requireExtraInputs(model.graphPath, graph, feeds)
  return feeds
}

function result(
  state: RowState,
  prompt: number[],
  text: string,
  prefillEnd: number,
  prefillMs: number,
): GenerationResult {
  const decodeMs = Math.max(0, state.finishedAt - prefillEnd)
  const count = state.generated.length
  const tokensPerSecond =
    count > 1 && decodeMs > 0
      ? ((count - 1) * 1000) / decodeMs
      : (count * 1000) / Math.max(prefillMs + decodeMs, 1e-3)
  return {
    tokens: [...prompt, ...state.generated],
    generated: state.generated,
    text,
    finishReason: state.finishReason ?? 'cancelled',
    promptTokens: prompt.length,
    timing: { prefillMs, decodeMs, tokensPerSecond },
  }
}

/**
 * Handle a row's new token; returns the final-text piece for the token event. With `incremental` false (nobody
 * streams, no stop strings) text is decoded once when the row finishes instead of token by token.
 */
function advanceRow(
  state: RowState,
  stream: TextStream,
  token: number,
  options: ResolvedGenerationOptions,
  incremental: boolean,
): string {
  state.generated.push(token)
  let text = ''
  if (options.eosTokenIds.includes(token)) {
    state.finishReason = 'eos'
    text = stream.finish()
  } else if (incremental) {
    const piece = stream.push(token)
    text = piece.text
    if (piece.stopped) state.finishReason = 'stop'
  } else stream.append(token)
  if (state.finishReason === undefined && state.generated.length >= options.maxTokens) {
    state.finishReason = 'length'
    text += stream.finish()
  }
  if (state.finishReason !== undefined) state.finishedAt = performance.now()
  return text
}

/**
 * Logits that rank no token: NaN or infinite values (argmax would silently answer token 0), or, in a steered row,
 * one value across the whole vocabulary (an edit at a huge strength overflows the RMSNorm, which then outputs
 * zeros). Throws a TillerError naming the row and what it runs.
 */
function checkRankable(
  logits: Float32Array,
  row: number,
  position: number,
  extraInputs: ExtraInputs | undefined,
): void {
  let bad: number | undefined
  let minimum = Infinity
  let maximum = -Infinity
  for (const value of logits) {
    if (!Number.isFinite(value)) {
      bad = value
      break
    }
    minimum = Math.min(minimum, value)
    maximum = Math.max(maximum, value)
  }
  const steering = extraInputs?.describeRow?.(row)
  const flat = bad === undefined && steering !== undefined && logits.length > 1 && minimum === maximum
  if (bad === undefined && !flat) return
  const found = bad === undefined ? `all ${maximum}` : String(bad)
  if (steering !== undefined) {
    throw new TillerError(
      'invalid-argument',
      `At ${steering}, the steered model's logits are ${found} at new token ${position + 1} (row ${row}), so no ` +
        `token can be chosen: the edit drives the activations out of range. Lower the strength.`,
      { subject: 'strength' },
    )
  }
  throw new TillerError(
    'internal',
    `The model's logits are ${found} at new token ${position + 1} (row ${row}), so no token can be chosen; its ` +
      `weights or graph are broken. Export or download the model again.`,
    { subject: 'logits' },
  )
}

/**
 * Generate continuations for every row of `request.rows` in one batch.
 * Under greedy decoding each row's tokens equal a one-row run of the same prompt; under sampling too, since every
 * row draws from its own generator seeded with `options.seed`.
 */
export async function generate(model: LoadedModel, request: GenerationRequest): Promise<GenerationResult[]> {
  const defaultEos =
    model.config.eosTokenIds.length > 0
      ? model.config.eosTokenIds
      : [model.tokenizer.eos_token_id].filter((tokenId): tokenId is number => Number.isInteger(tokenId))
  const options = resolveGenerationOptions(request.options, defaultEos)
  const layout = layoutRows(request.rows)
  checkTokenIds(request.rows, model.config.vocabSize)
  checkContext(model, layout, options.maxTokens)

  const { batch } = layout
  const samplers = request.rows.map((row) => {
    const sampler = new RowSampler(model.config.vocabSize, options, options.seed)
    for (const token of row) sampler.observe(token)
    return sampler
  })
  const streams = request.rows.map((row) => new TextStream(model.tokenizer, row, options.stopStrings))
  const states: RowState[] = request.rows.map(() => ({
    generated: [],
    finishReason: undefined,
    finishedAt: 0,
  }))
  const logitsRows = new LogitsRows(batch, model.config.vocabSize)
  const fetches = [graphOutputs.logits, ...model.graph.cache.presentNames]
  const nextTokens = request.rows.map((row) => row[row.length - 1] as number)
  const incremental = request.onToken !== undefined || options.stopStrings.length > 0

  let past = emptyCache(model.graph.cache, batch)
  let pastLength = 0
  const start = performance.now()
  let prefillEnd = start
  let decoder = model.session
  for (let step = 0; ; step++) {
    if (request.signal?.aborted) {
      const now = performance.now()
      for (const state of states) {
        if (state.finishReason === undefined)
          Object.assign(state, { finishReason: 'cancelled', finishedAt: now })
      }
      break
    }
    const isPrefill = step === 0
    const sequence = isPrefill ? layout.width : 1
    const context: StepContext = {
      step,
      batch,
      sequence,
      pastLength,
      leftPadding: layout.leftPadding,
      promptLengths: layout.promptLengths,
      isPrefill,
    }
    const feeds = stepFeeds(model, request, layout, context, nextTokens, past)
    // Decode steps of a small model run on its one-thread session, the prompt on every core.
    if (step === 1) decoder = (await decodeSessionOf(model)) ?? model.session
    const outputs = await (isPrefill ? model.session : decoder).run(feeds, fetches)
    past = model.graph.cache.presentNames.map((name) => outputs[name] as ort.Tensor)
    pastLength += sequence
    const logits = outputs[graphOutputs.logits] as ort.Tensor
    for (let row = 0; row < batch; row++) {
      const state = states[row] as RowState
      if (state.finishReason !== undefined) continue
      const sampler = samplers[row] as RowSampler
      const rowLogits = logitsRows.lastPosition(logits, row)
      checkRankable(rowLogits, row, state.generated.length, request.extraInputs)
      const token = sampler.pick(rowLogits)
      sampler.observe(token)
      nextTokens[row] = token
      const text = advanceRow(state, streams[row] as TextStream, token, options, incremental)
      request.onToken?.({ row, token, text })
    }
    if (isPrefill) prefillEnd = performance.now()
    if (states.every((state) => state.finishReason !== undefined)) break
  }
  const prefillMs = prefillEnd - start
  return states.map((state, row) => {
    const stream = streams[row] as TextStream
    if (state.finishReason === 'cancelled') stream.finish()
    return result(state, request.rows[row] as number[], stream.text, prefillEnd, prefillMs)
  })
}
