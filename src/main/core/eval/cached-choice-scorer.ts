import * as ort from 'onnxruntime-node'
import { graphInputs, graphOutputs } from '../models/graph-contract.ts'
import {
  checkTokenIds,
  logitsToKeepFeed,
  prefillFeeds,
  layoutRows,
  requireExtraInputs,
} from '../runtime/feeds.ts'
import { emptyCache } from '../runtime/graph-io.ts'
import { logitsAsFloat32 } from '../runtime/logits.ts'
import type { LoadedModel } from '../runtime/model.ts'
import { paddingTokenId } from '../runtime/model-config.ts'
import type { ExtraInputs, StepContext } from '../runtime/step-context.ts'
import { checkEncodedItems, type ChoiceScorer } from './choice-scorer.ts'
import { logSoftmaxAt } from './log-softmax.ts'

/**
 * Multiple-choice scoring with the prompt's KV cache reused across choices (METHODS §9.5): per item, one prefill
 * of the prompt (one row per strength), then one pass over all choices (strengths × choices rows) on top of the
 * copied cache. Choices of different lengths are right padded with the pad token and fully attended: attention
 * is causal, so tokens after a choice never change that choice's logits, and no graph has to support holes in
 * the attention mask.
 */

/**
 * A steered graph's extra inputs for rows at these strengths whose answers start at token `assistantStart`
 * (undefined for a plain graph).
 */
export type StrengthInputs = (strengths: readonly number[], assistantStart: number) => ExtraInputs | undefined

/** Repeat each row of a `[rows, heads, length, headDim]` cache tensor `copies` times, row by row. */
function repeatRows(tensor: ort.Tensor, copies: number): ort.Tensor {
  const [rows, heads, length, headDim] = tensor.dims as [number, number, number, number]
  const size = heads * length * headDim
  const source = tensor.data as Float32Array | Uint16Array
  const Constructor = source.constructor as new (length: number) => Float32Array | Uint16Array
  const data = new Constructor(rows * copies * size)
  for (let row = 0; row < rows; row++) {
    const block = source.subarray(row * size, (row + 1) * size)
    for (let copy = 0; copy < copies; copy++) data.set(block, (row * copies + copy) * size)
  }
  return new ort.Tensor(tensor.type as 'float32' | 'float16', data, [rows * copies, heads, length, headDim])
}

/** Feeds of the choice pass: ids `[rows, width]` (pad after each choice), mask all ones, positions after the prompt. */
function choiceFeeds(
  model: LoadedModel,
  rows: number[][],
  promptLength: number,
  width: number,
): Record<string, ort.Tensor> {
  const batch = rows.length
  const ids = new BigInt64Array(batch * width).fill(BigInt(paddingTokenId(model.config)))
  const positions = new BigInt64Array(batch * width)
  rows.forEach((tokens, row) => {
    tokens.forEach((token, column) => (ids[row * width + column] = BigInt(token)))
    for (let column = 0; column < width; column++)
      positions[row * width + column] = BigInt(promptLength + column)
  })
  const mask = new BigInt64Array(batch * (promptLength + width)).fill(1n)
  const feeds: Record<string, ort.Tensor> = {
    [graphInputs.inputIds]: new ort.Tensor('int64', ids, [batch, width]),
    [graphInputs.attentionMask]: new ort.Tensor('int64', mask, [batch, promptLength + width]),
  }
  if (model.graph.hasPositionIds)
    feeds[graphInputs.positionIds] = new ort.Tensor('int64', positions, [batch, width])
  return feeds
}

/** A ChoiceScorer on a loaded model (plain or steered) that reuses each prompt's KV cache across its choices. */
export function cachedChoiceScorer(
  model: LoadedModel,
  inputsFor: StrengthInputs = () => undefined,
): ChoiceScorer {
  const { graph } = model
  const fetch = [graphOutputs.logits, ...graph.cache.presentNames]
  return async (items, strengths) => {
    checkEncodedItems(items)
    const scores: number[][][] = []
    for (const item of items) {
      const promptRows = strengths.map(() => item.prompt)
      checkTokenIds(promptRows, model.config.vocabSize)
      checkTokenIds(item.choices, model.config.vocabSize)
      const promptLength = item.prompt.length
      const layout = layoutRows(promptRows)
      const prefill = prefillFeeds(layout, promptRows, paddingTokenId(model.config), graph)
      emptyCache(graph.cache, layout.batch).forEach((tensor, index) => {
        prefill[graph.cache.pastNames[index] as string] = tensor
      })
      Object.assign(prefill, logitsToKeepFeed(graph, 0))
      const prefillContext: StepContext = {
        step: 0,
        batch: layout.batch,
        sequence: promptLength,
        pastLength: 0,
        leftPadding: layout.leftPadding,
        promptLengths: layout.promptLengths,
        isPrefill: true,
      }
      Object.assign(prefill, inputsFor(strengths, promptLength)?.(prefillContext) ?? {})
      requireExtraInputs(model.graphPath, graph, prefill)
      const prompted = await model.session.run(prefill, fetch)
      const promptLogits = logitsAsFloat32(prompted[graphOutputs.logits] as ort.Tensor)
      const vocab = (prompted[graphOutputs.logits] as ort.Tensor).dims[2] as number

      // Rows of the choice pass: strength-major, choice-minor (row s·C + c).
      const choiceCount = item.choices.length
      const width = Math.max(...item.choices.map((choice) => choice.length))
      const rows = strengths.flatMap(() => item.choices)
      const feeds = choiceFeeds(model, rows, promptLength, width)
      graph.cache.presentNames.forEach((name, index) => {
        feeds[graph.cache.pastNames[index] as string] = repeatRows(prompted[name] as ort.Tensor, choiceCount)
      })
      Object.assign(feeds, logitsToKeepFeed(graph, 0))
      const choiceContext: StepContext = {
        step: 1,
        batch: rows.length,
        sequence: width,
        pastLength: promptLength,
        leftPadding: rows.map(() => 0),
        promptLengths: rows.map(() => promptLength),
        isPrefill: false,
      }
      Object.assign(
        feeds,
        inputsFor(
          strengths.flatMap((strength) => item.choices.map(() => strength)),
          promptLength,
        )?.(choiceContext) ?? {},
      )
      const continued = await model.session.run(feeds, [graphOutputs.logits])
      const choiceLogits = logitsAsFloat32(continued[graphOutputs.logits] as ort.Tensor)

      const scratch = new Float64Array(vocab)
      scores.push(
        strengths.map((_, strengthIndex) =>
          item.choices.map((choice, choiceIndex) => {
            // The prompt's last position predicts the first choice token; the choice pass predicts the rest.
            const promptOffset = (strengthIndex * promptLength + promptLength - 1) * vocab
            let total = logSoftmaxAt(promptLogits, promptOffset, vocab, scratch)[
              choice[0] as number
            ] as number
            const row = strengthIndex * choiceCount + choiceIndex
            for (let index = 1; index < choice.length; index++) {
              const offset = (row * width + index - 1) * vocab
              total += logSoftmaxAt(choiceLogits, offset, vocab, scratch)[choice[index] as number] as number
            }
            return total
          }),
        ),
      )
    }
    return scores
  }
}
