/**
 * A model folder's tokenizer on `@huggingface/tokenizers`, the library Transformers.js 4 itself tokenizes with.
 * Transformers.js' `PreTrainedTokenizer` is a thin layer over that library's `Tokenizer`; this class is the same
 * layer for what Tiller uses (encode, decode, the chat template, the special tokens), so results are identical
 * while start-up skips importing Transformers.js (its module pulls in ONNX Runtime Web and `sharp`, about half a
 * second). test/runtime/folder-tokenizer.test.ts (and its `.slow` twin) compares both on real vocabularies.
 */
import { Tokenizer } from '@huggingface/tokenizers'

/** Options of {@link TextTokenizer.encode}, named as Transformers.js names them. */
export interface EncodeOptions {
  /** Apply the post-processor (BOS/EOS and friends); default true. */
  add_special_tokens?: boolean
}

/** Options of {@link TextTokenizer.decode}, named as Transformers.js names them. */
export interface DecodeOptions {
  /** Leave special tokens out of the text; default false. */
  skip_special_tokens?: boolean
}

/**
 * What Tiller asks of a tokenizer. Transformers.js' `PreTrainedTokenizer` has the same members, so tests and
 * benchmarks may pass one wherever a folder's tokenizer goes.
 */
export interface TextTokenizer {
  encode(text: string, options?: EncodeOptions): number[]
  decode(tokenIds: number[], options?: DecodeOptions): string
  /** tokenizer_config.json's chat_template: a string, a name → template map or null (settable, as there). */
  chat_template: unknown
  /** The parsed `tokenizer_config.json`. */
  readonly config: Record<string, unknown>
  readonly bos_token_id: number | undefined
  readonly eos_token_id: number | undefined
}

/**
 * A special token named in the config: a string, or an AddedToken object's content. Like Transformers.js, an
 * object that is not an AddedToken is an error, and an empty value counts as absent.
 */
function tokenFromConfig(config: Record<string, unknown>, key: string): string | undefined {
  if (!Object.hasOwn(config, key)) return undefined
  const item = config[key]
  if (item === null || item === undefined || item === '' || item === false || item === 0) return undefined
  if (typeof item === 'object') {
    const added = item as { __type?: unknown; content?: unknown }
    if (added.__type === 'AddedToken') return added.content as string
    throw new Error(`tokenizer_config.json's ${key} is an object that is not an AddedToken`)
  }
  return item as string
}

/** Named templates come as a list of {name, template}; they are kept as a name → template map. */
function chatTemplateOfConfig(config: Record<string, unknown>): unknown {
  const template = config['chat_template'] ?? null
  if (!Array.isArray(template)) return template
  const byName: Record<string, string> = Object.create(null) as Record<string, string>
  for (const entry of template as { name?: unknown; template?: unknown }[]) {
    if (typeof entry?.name !== 'string' || typeof entry.template !== 'string') {
      throw new Error(
        'tokenizer_config.json\'s chat_template list needs "name" and "template" strings in every entry',
      )
    }
    byName[entry.name] = entry.template
  }
  return byName
}

/** A tokenizer built from the parsed `tokenizer.json` and `tokenizer_config.json`. */
export class FolderTokenizer implements TextTokenizer {
  readonly config: Record<string, unknown>
  chat_template: unknown
  readonly bos_token_id: number | undefined
  readonly eos_token_id: number | undefined
  private readonly tokenizer: Tokenizer

  /** Throws the library's own errors for malformed files; the loader turns them into TillerErrors. */
  constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig)
    this.config = tokenizerConfig
    this.bos_token_id = this.tokenId(tokenFromConfig(tokenizerConfig, 'bos_token'))
    this.eos_token_id = this.tokenId(tokenFromConfig(tokenizerConfig, 'eos_token'))
    this.chat_template = chatTemplateOfConfig(tokenizerConfig)
  }

  private tokenId(token: string | undefined): number | undefined {
    return token === undefined ? undefined : this.tokenizer.token_to_id(token)
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.add_special_tokens ?? true }).ids
  }

  /** Transformers.js refuses an empty list or non-integer ids the same way. */
  decode(tokenIds: number[], options: DecodeOptions = {}): string {
    if (!Array.isArray(tokenIds) || tokenIds.length === 0 || !Number.isInteger(tokenIds[0])) {
      throw new Error('token_ids must be a non-empty array of integers.')
    }
    return this.tokenizer.decode(tokenIds, {
      skip_special_tokens: options.skip_special_tokens ?? false,
      clean_up_tokenization_spaces: null,
    })
  }
}
