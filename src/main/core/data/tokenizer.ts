/**
 * The tokenizer behind `RenderTokenizer` (runtime/text-tokenizer.ts, Transformers.js' behaviour without importing
 * it): loading from a model folder with no network, and the adapter that renders chat templates to text (RUNTIME-NOTES.md §1.4).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { TillerError } from '../errors.ts'
import { chatTemplateOf, registerTemplateSource, renderChatTemplate } from '../models/chat-template.ts'
import { checkTokenizerWorks } from '../models/tokenizer-check.ts'
import type { TextTokenizer } from '../runtime/text-tokenizer.ts'
import { buildFolderTokenizer } from '../runtime/tokenizer.ts'
import type { ChatMessage, RenderTokenizer } from './render.ts'

/**
 * The space token: what " " becomes after a word ("a " minus "a"), else the last token of " " alone; undefined
 * for tokenizers that drop spaces (word-level ones), which render everything except ActAdd's padding.
 */
function findSpaceToken(tokenizer: TextTokenizer): number | undefined {
  const word = tokenizer.encode('a', { add_special_tokens: false })
  const spaced = tokenizer.encode('a ', { add_special_tokens: false })
  if (spaced.length === word.length + 1 && word.every((id, index) => spaced[index] === id)) {
    return spaced[spaced.length - 1] as number
  }
  const alone = tokenizer.encode(' ', { add_special_tokens: false })
  return alone[alone.length - 1]
}

/** Wrap a folder's tokenizer (or a Transformers.js one: it has the same members). */
export function renderTokenizer(tokenizer: TextTokenizer): RenderTokenizer {
  const chatTemplate = chatTemplateOf(tokenizer)
  return {
    chatTemplate,
    spaceTokenId: findSpaceToken(tokenizer),
    encode: (text, addSpecialTokens) => tokenizer.encode(text, { add_special_tokens: addSpecialTokens }),
    decode: (tokenIds) => tokenizer.decode(tokenIds, { skip_special_tokens: false }),
    applyChatTemplate(messages: ChatMessage[], addGenerationPrompt: boolean): string {
      if (chatTemplate === undefined)
        throw new TillerError('invalid-argument', 'The model has no chat template.')
      return renderChatTemplate(tokenizer, chatTemplate, messages, addGenerationPrompt)
    },
  }
}

/** Load `tokenizer.json` + `tokenizer_config.json` from a model folder, offline. */
export async function loadRenderTokenizer(folder: string): Promise<RenderTokenizer> {
  const path = join(folder, 'tokenizer.json')
  if (!existsSync(path)) {
    throw new TillerError(
      'missing-tokenizer',
      `No tokenizer.json in ${folder}; copy the model's tokenizer files there.`,
      {
        subject: path,
      },
    )
  }
  let tokenizer: TextTokenizer
  try {
    tokenizer = await buildFolderTokenizer(folder)
  } catch (error) {
    if (error instanceof TillerError) throw error
    throw new TillerError(
      'missing-tokenizer',
      `Cannot load the tokenizer in ${folder}: ${(error as Error).message}`,
      {
        subject: folder,
        cause: error,
      },
    )
  }
  checkTokenizerWorks(tokenizer, folder)
  registerTemplateSource(tokenizer, join(folder, 'tokenizer_config.json'))
  return renderTokenizer(tokenizer)
}
