/**
 * A model folder's configuration, normalised from Hugging Face `config.json` (+ `generation_config.json`) or, for
 * folders written by the onnxruntime-genai builder, from `genai_config.json`.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { modelFiles } from '../models/graph-contract.ts'
import { TillerError } from '../errors.ts'

/** The genai builder's configuration file (no config.json in such folders). */
export const genaiConfigFile = 'genai_config.json'

/** The numbers the runtime needs, whichever file they came from. Cache shapes are re-read from the graph. */
export interface ModelConfig {
  /** Hugging Face `model_type` (genai `type`), e.g. `llama`. */
  modelType: string
  /** Hugging Face architecture class, e.g. `LlamaForCausalLM`; derived from modelType when absent. */
  architecture: string
  layers: number
  hiddenSize: number
  heads: number
  kvHeads: number
  headDim: number
  vocabSize: number
  /** Longest sequence (prompt + generated) the model supports. */
  maxPositionEmbeddings: number
  bosTokenId: number | undefined
  /** Generation stops at any of these; generation_config.json wins over config.json. */
  eosTokenIds: number[]
  padTokenId: number | undefined
  /** Which file the values came from. */
  source: 'config.json' | 'genai_config.json'
  /** The parsed file, for fields the runtime does not normalise. */
  raw: Record<string, unknown>
}

type JsonObject = Record<string, unknown>

function readJson(path: string): JsonObject {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new TillerError('file-not-found', `Cannot read ${path}.`, { subject: path, cause: error })
  }
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object')
    return value as JsonObject
  } catch (error) {
    throw new TillerError('file-corrupt', `${path} is not a JSON object; restore it from the source model.`, {
      subject: path,
      cause: error,
    })
  }
}

function objectField(object: JsonObject, key: string): JsonObject | undefined {
  const value = object[key]
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined
}

function numberField(object: JsonObject | undefined, key: string): number | undefined {
  const value = object?.[key]
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

function requireNumber(object: JsonObject, key: string, path: string): number {
  const value = numberField(object, key)
  if (value === undefined || value <= 0 || !Number.isInteger(value)) {
    throw new TillerError('invalid-model-folder', `${path} has no positive integer "${key}"; add it.`, {
      subject: `${path}:${key}`,
    })
  }
  return value
}

/** eos_token_id may be a number or a list; negative values mean "none". */
function tokenIds(value: unknown): number[] {
  const list = Array.isArray(value) ? value : [value]
  return list.filter(
    (entry): entry is number => typeof entry === 'number' && Number.isInteger(entry) && entry >= 0,
  )
}

function singleTokenId(value: unknown): number | undefined {
  return tokenIds(value)[0]
}

function architectureFor(modelType: string): string {
  const known: Record<string, string> = {
    llama: 'LlamaForCausalLM',
    mistral: 'MistralForCausalLM',
    qwen2: 'Qwen2ForCausalLM',
    qwen3: 'Qwen3ForCausalLM',
    phi3: 'Phi3ForCausalLM',
    gemma: 'GemmaForCausalLM',
    gemma2: 'Gemma2ForCausalLM',
    gemma3_text: 'Gemma3ForCausalLM',
  }
  return known[modelType] ?? modelType
}

function fromHuggingFace(folder: string): ModelConfig {
  const path = join(folder, modelFiles.config)
  const raw = readJson(path)
  const modelType = typeof raw['model_type'] === 'string' ? raw['model_type'] : 'unknown'
  const architectures = raw['architectures']
  const architecture =
    Array.isArray(architectures) && typeof architectures[0] === 'string'
      ? architectures[0]
      : architectureFor(modelType)
  const hiddenSize = requireNumber(raw, 'hidden_size', path)
  const heads = requireNumber(raw, 'num_attention_heads', path)
  const generationPath = join(folder, modelFiles.generationConfig)
  const generation = existsSync(generationPath) ? readJson(generationPath) : {}
  const generationEos = tokenIds(generation['eos_token_id'])
  return {
    modelType,
    architecture,
    layers: requireNumber(raw, 'num_hidden_layers', path),
    hiddenSize,
    heads,
    kvHeads: numberField(raw, 'num_key_value_heads') ?? heads,
    headDim: numberField(raw, 'head_dim') ?? hiddenSize / heads,
    vocabSize: requireNumber(raw, 'vocab_size', path),
    maxPositionEmbeddings: requireNumber(raw, 'max_position_embeddings', path),
    bosTokenId: singleTokenId(generation['bos_token_id'] ?? raw['bos_token_id']),
    eosTokenIds: generationEos.length > 0 ? generationEos : tokenIds(raw['eos_token_id']),
    padTokenId: singleTokenId(generation['pad_token_id'] ?? raw['pad_token_id']),
    source: 'config.json',
    raw,
  }
}

function fromGenai(folder: string): ModelConfig {
  const path = join(folder, genaiConfigFile)
  const raw = readJson(path)
  const model = objectField(raw, 'model')
  const decoder = model === undefined ? undefined : objectField(model, 'decoder')
  if (model === undefined || decoder === undefined) {
    throw new TillerError('invalid-model-folder', `${path} has no "model.decoder" section; restore it.`, {
      subject: path,
    })
  }
  const modelType = typeof model['type'] === 'string' ? model['type'] : 'unknown'
  const hiddenSize = requireNumber(decoder, 'hidden_size', `${path} model.decoder`)
  const heads = requireNumber(decoder, 'num_attention_heads', `${path} model.decoder`)
  return {
    modelType,
    architecture: architectureFor(modelType),
    layers: requireNumber(decoder, 'num_hidden_layers', `${path} model.decoder`),
    hiddenSize,
    heads,
    kvHeads: numberField(decoder, 'num_key_value_heads') ?? heads,
    headDim: numberField(decoder, 'head_size') ?? hiddenSize / heads,
    vocabSize: requireNumber(model, 'vocab_size', `${path} model`),
    maxPositionEmbeddings: requireNumber(model, 'context_length', `${path} model`),
    bosTokenId: singleTokenId(model['bos_token_id']),
    eosTokenIds: tokenIds(model['eos_token_id']),
    padTokenId: singleTokenId(model['pad_token_id']),
    source: 'genai_config.json',
    raw,
  }
}

/** Read and normalise the configuration of the model folder `folder`. */
export function readModelConfig(folder: string): ModelConfig {
  if (existsSync(join(folder, modelFiles.config))) return fromHuggingFace(folder)
  if (existsSync(join(folder, genaiConfigFile))) return fromGenai(folder)
  throw new TillerError(
    'invalid-model-folder',
    `${folder} has neither ${modelFiles.config} nor ${genaiConfigFile}; point --model at a model folder ` +
      '(for example one written by `tiller import`).',
    { subject: folder },
  )
}

/** The genai builder's decoder file name, when the folder has a genai_config.json that names one. */
export function genaiDecoderFile(config: ModelConfig): string | undefined {
  if (config.source !== 'genai_config.json') return undefined
  const decoder = objectField(objectField(config.raw, 'model') ?? {}, 'decoder')
  const filename = decoder?.['filename']
  return typeof filename === 'string' ? filename : undefined
}

/** The id fed in padding columns: pad_token_id, else the first EOS id, else 0 (padding is masked anyway). */
export function paddingTokenId(config: ModelConfig): number {
  return config.padTokenId ?? config.eosTokenIds[0] ?? 0
}
