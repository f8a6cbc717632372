/**
 * The tokenizer and chat template of a model folder, loaded strictly from its local files. Tokenizers run on
 * `@huggingface/tokenizers` (text-tokenizer.ts) exactly as Transformers.js runs them, without importing
 * Transformers.js; the few tokenizer classes Transformers.js changes beyond that library still load through it.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { modelFiles } from '../models/graph-contract.ts'
import { TillerError } from '../errors.ts'
import { registerTemplateSource } from '../models/chat-template.ts'
import { checkTokenizerWorks } from '../models/tokenizer-check.ts'
import { FolderTokenizer, type TextTokenizer } from './text-tokenizer.ts'

/**
 * Tokenizer classes whose Transformers.js subclass replaces the decoder or decoding (speech models' tokenizers);
 * no language model Tiller runs uses them, but a folder that names one gets Transformers.js' behaviour.
 */
const transformersOnlyClasses = new Set(['WhisperTokenizer', 'VitsTokenizer'])

/** The two files a folder's tokenizer is read from, parsed. */
interface TokenizerFiles {
  tokenizerJson: Record<string, unknown>
  tokenizerConfig: Record<string, unknown>
}

async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  const parsed: unknown = JSON.parse(await readFile(path, 'utf8'))
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${path} does not hold a JSON object`)
  }
  return parsed as Record<string, unknown>
}

async function readTokenizerFiles(folder: string): Promise<TokenizerFiles> {
  return {
    tokenizerJson: await readJsonObject(join(folder, modelFiles.tokenizer)),
    tokenizerConfig: await readJsonObject(join(folder, modelFiles.tokenizerConfig)),
  }
}

/** The class name Transformers.js would pick, without its "Fast" suffix. */
function tokenizerClass(config: Record<string, unknown>): string {
  const name = config['tokenizer_class']
  return typeof name === 'string' ? name.replace(/Fast$/, '') : 'PreTrainedTokenizer'
}

/**
 * Build the tokenizer of `folder` from its files. Throws whatever reading, parsing or constructing throws; callers
 * wrap it in their own TillerError.
 */
export async function buildFolderTokenizer(folder: string): Promise<TextTokenizer> {
  const { tokenizerJson, tokenizerConfig } = await readTokenizerFiles(folder)
  if (!transformersOnlyClasses.has(tokenizerClass(tokenizerConfig))) {
    return new FolderTokenizer(tokenizerJson, tokenizerConfig)
  }
  const { AutoTokenizer } = await import('@huggingface/transformers')
  const { configureOfflineTransformers } = await import('./offline-transformers.ts')
  configureOfflineTransformers()
  return AutoTokenizer.from_pretrained(folder, { local_files_only: true })
}

/** Load the tokenizer of the model folder `folder`. */
export async function loadTokenizer(folder: string): Promise<TextTokenizer> {
  for (const file of [modelFiles.tokenizer, modelFiles.tokenizerConfig]) {
    const path = join(folder, file)
    if (!existsSync(path)) {
      throw new TillerError(
        'missing-tokenizer',
        `The model folder has no tokenizer: ${path} is missing. Copy tokenizer.json and tokenizer_config.json ` +
          'from the source model into the folder, or re-import the model with `tiller import`.',
        { subject: path },
      )
    }
  }
  let tokenizer: TextTokenizer
  try {
    tokenizer = await buildFolderTokenizer(folder)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new TillerError(
      'file-corrupt',
      `Could not load the tokenizer in ${folder} (${reason}); check ${modelFiles.tokenizer} and ` +
        `${modelFiles.tokenizerConfig}.`,
      { subject: join(folder, modelFiles.tokenizer), cause: error },
    )
  }
  checkTokenizerWorks(tokenizer, folder)
  registerTemplateSource(tokenizer, join(folder, modelFiles.tokenizerConfig))
  return tokenizer
}
