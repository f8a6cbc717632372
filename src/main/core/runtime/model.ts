/**
 * A loaded model folder: tokenizer, configuration and one ONNX Runtime session over its decoder graph.
 *
 * Folder layouts understood:
 *   Transformers.js   config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx (+ onnx/model.onnx_data),
 *                     and variants beside it (onnx/model_fp16.onnx, model_q4.onnx, …: src/shared/model-variants.ts)
 *   genai builder     genai_config.json (decoder.filename, usually model.onnx), tokenizer files, model.onnx.data
 */
import { existsSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import type { TextTokenizer } from './text-tokenizer.ts'
import type * as ort from 'onnxruntime-node'
import type {
  ExecutionProviderChoice,
  ExecutionProviderName,
  LoadedModelInfo,
} from '../../../shared/engine-status.ts'
import { TillerError } from '../errors.ts'
import { detectGraphFamily } from './graph-family.ts'
import { readGraphInterface, type CacheLayout, type GraphInterface } from './graph-io.ts'
import { resolveDecoderGraph } from './graph-path.ts'
import { readModelConfig, type ModelConfig } from './model-config.ts'
import { createProviderSession, singleThreadDecodeSession } from './session.ts'
import { loadTokenizer } from './tokenizer.ts'
import { recoverFolder } from '../workspace/folder-swap.ts'
import { graphFileOf } from '../models/locator/graph-file.ts'
import { listModelVariants } from '../models/variants.ts'

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /** Execution provider preference; default `auto`. */
  provider?: ExecutionProviderChoice
  /** An alternative `.onnx` in the same folder (relative to it, or absolute), e.g. a compiled steered graph. */
  graphFile?: string
  /** A Transformers.js variant of the folder's graph (`fp16`, `q4`, …) instead of its default one. */
  variant?: string
  /**
   * The graph edits and hooks compile against, relative to the folder, when `graphFile` is derived from a variant
   * (a steered graph compiled from `onnx/model_q4.onnx`); defaults to the variant's graph, else the folder's default.
   */
  baseGraphFile?: string
  /**
   * The folder's tokenizer when the caller already loaded it (e.g. from the base model while opening steered graphs
   * of the same folder): parsing a large tokenizer.json costs more than creating a small model's session.
   */
  tokenizer?: TextTokenizer
  /**
   * The graph outputs only hooks (compiled with `hooksOnly` for capture): it runs forward passes over whole batches,
   * not generation, so its weights are not prepacked at load (session.ts).
   */
  hooksOnly?: boolean
}

/**
 * A model ready to run. `session`, `graphPath`, `graph` and `cache` change together when {@link replaceGraph}
 * swaps the graph; everything else is fixed for the folder.
 */
export interface LoadedModel {
  folder: string
  tokenizer: TextTokenizer
  config: ModelConfig
  session: ort.InferenceSession
  /**
   * The same graph on one thread for decode steps of a small model (session.ts `singleThreadDecodeSession`),
   * created when a generation first decodes (`decodeSessionOf`), so models that only score never pay for it.
   */
  decodeSession: Promise<ort.InferenceSession | undefined> | undefined
  /**
   * Models of the same folder kept open beside this one for reuse, by graph path (capture's hooks-only graphs of a
   * small model: capture/hooked-model.ts); disposed with it.
   */
  companions: Map<string, LoadedModel>
  graphPath: string
  graph: GraphInterface
  /**
   * The graph edits and hooks compile against, relative to the folder: the chosen variant's, or undefined for the
   * folder's default graph.
   */
  baseGraphFile: string | undefined
  /** Cache layout and dtype, read from `session.inputMetadata`. */
  cache: CacheLayout
  provider: ExecutionProviderName
  /** The provider that was asked for, used again when the graph is replaced. */
  providerChoice: ExecutionProviderChoice
  /** Why the session runs on `provider` rather than the requested one, when it fell back. */
  providerFallbackReason: string | undefined
  info: LoadedModelInfo
  /** Release the session; the model cannot run afterwards. */
  dispose(): Promise<void>
}

function resolveFolder(folder: string): string {
  const absolute = resolve(folder)
  // A re-import killed between its two renames leaves the folder aside; opening it puts it back.
  recoverFolder(absolute)
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) {
    throw new TillerError('file-not-found', `Model folder ${absolute} does not exist; check --model.`, {
      subject: absolute,
    })
  }
  return absolute
}

function checkAgainstConfig(config: ModelConfig, graph: GraphInterface, graphPath: string): void {
  const { cache } = graph
  if (
    cache.layers !== config.layers ||
    cache.kvHeads !== config.kvHeads ||
    cache.headDim !== config.headDim
  ) {
    throw new TillerError(
      'shape-mismatch',
      `${graphPath} has a cache of ${cache.layers} layers x ${cache.kvHeads} kv heads x ${cache.headDim} but the ` +
        `${config.source} says ${config.layers} x ${config.kvHeads} x ${config.headDim}; the folder mixes two models.`,
      { subject: graphPath },
    )
  }
}

function describeModel(
  folder: string,
  config: ModelConfig,
  graphPath: string,
  graph: GraphInterface,
): LoadedModelInfo {
  return {
    path: folder,
    name: basename(folder),
    architecture: config.architecture,
    graphFamily: detectGraphFamily(graphPath),
    layers: graph.cache.layers,
    hiddenSize: config.hiddenSize,
    vocabSize: config.vocabSize,
    dtype: graph.cache.dtype,
    variant: listModelVariants(folder).find((variant) => join(folder, variant.graphFile) === graphPath)?.name,
  }
}

/** Load the model folder `folder`: tokenizer, configuration and a session on the chosen provider. */
export async function loadModel(folder: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const root = resolveFolder(folder)
  const config = readModelConfig(root)
  const tokenizer = options.tokenizer ?? (await loadTokenizer(root))
  const graphPath = resolveDecoderGraph(root, config, options.graphFile, options.variant)
  const baseGraphFile =
    options.baseGraphFile ??
    (options.variant !== undefined && options.graphFile === undefined
      ? graphFileOf(root, graphPath)
      : undefined)
  const providerChoice = options.provider ?? 'auto'
  const created = await createProviderSession(graphPath, providerChoice, {
    prepackWeights: options.hooksOnly !== true,
  })
  let graph: GraphInterface
  try {
    graph = readGraphInterface(created.session, graphPath, { hooksOnly: options.hooksOnly })
    checkAgainstConfig(config, graph, graphPath)
  } catch (error) {
    await created.session.release()
    throw error
  }
  const model: LoadedModel = {
    folder: root,
    tokenizer,
    config,
    session: created.session,
    decodeSession: undefined,
    companions: new Map(),
    graphPath,
    graph,
    baseGraphFile,
    cache: graph.cache,
    provider: created.provider,
    providerChoice,
    providerFallbackReason: created.fallbackReason,
    info: describeModel(root, config, graphPath, graph),
    dispose: async () => {
      const companions = [...model.companions.values()]
      model.companions.clear()
      for (const companion of companions) await companion.dispose()
      await model.session.release()
      await (await model.decodeSession)?.release()
    },
  }
  return model
}

/**
 * Swap the decoder graph of `model` for `graphFile` (same folder, same tokenizer and configuration), e.g. a steered
 * graph compiled from edits. The old session is released only after the new one loaded, so a failed swap leaves the
 * model usable. Sessions are expensive to create and leak a little native memory each time: swap rarely.
 */
export async function replaceGraph(model: LoadedModel, graphFile: string): Promise<void> {
  const graphPath = resolveDecoderGraph(model.folder, model.config, graphFile)
  const created = await createProviderSession(graphPath, model.providerChoice)
  let graph: GraphInterface
  try {
    graph = readGraphInterface(created.session, graphPath)
    checkAgainstConfig(model.config, graph, graphPath)
  } catch (error) {
    await created.session.release()
    throw error
  }
  const previous = model.session
  const previousDecode = model.decodeSession
  model.session = created.session
  model.decodeSession = undefined
  model.graphPath = graphPath
  model.graph = graph
  model.cache = graph.cache
  model.provider = created.provider
  model.providerFallbackReason = created.fallbackReason
  model.info = { ...model.info, graphFamily: detectGraphFamily(graphPath), dtype: graph.cache.dtype }
  await previous.release()
  await (await previousDecode)?.release()
}

/**
 * The session decode steps of `model` run on: its one-thread session when the model is small enough to gain from
 * one (created on first use), else undefined and the main session serves. A failed creation only costs the speed.
 */
export function decodeSessionOf(model: LoadedModel): Promise<ort.InferenceSession | undefined> {
  model.decodeSession ??= singleThreadDecodeSession(model.graphPath, model.provider).catch(() => undefined)
  return model.decodeSession
}
