/**
 * The tokenizer and chat template of a model folder, loaded by Transformers.js strictly from local files.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers'
import { modelFiles } from '../models/graph-contract.ts'
import { TillerError } from '../errors.ts'
import { registerTemplateSource } from '../models/chat-template.ts'
import { checkTokenizerWorks } from '../models/tokenizer-check.ts'

/** Never reach the network and never write a cache: model folders are complete and read-only to Tiller. */
export function configureOfflineTransformers(): void {
  env.allowRemoteModels = false
  env.allowLocalModels = true
  env.useFSCache = false
}

/** Load the Transformers.js tokenizer of the model folder `folder`. */
export async function loadTokenizer(folder: string): Promise<PreTrainedTokenizer> {
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
  configureOfflineTransformers()
  let tokenizer: PreTrainedTokenizer
  try {
    tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true })
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new TillerError(
      'file-corrupt',
      `Transformers.js could not load the tokenizer in ${folder} (${reason}); check ${modelFiles.tokenizer} and ` +
        `${modelFiles.tokenizerConfig}.`,
      { subject: join(folder, modelFiles.tokenizer), cause: error },
    )
  }
  checkTokenizerWorks(tokenizer, folder)
  registerTemplateSource(tokenizer, join(folder, modelFiles.tokenizerConfig))
  return tokenizer
}
