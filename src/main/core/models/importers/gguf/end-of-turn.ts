import { TillerError } from '../../../errors.ts'
import type { GgufFile } from './gguf-file.ts'
import { metadataTokenId } from './metadata-fields.ts'
import { ggufTokens } from './tokenizer-fields.ts'

/**
 * The tokens chat models end a turn with, by their text, as llama.cpp recognizes them when a GGUF does not name
 * one: Llama 3 `<|eot_id|>`, Qwen (ChatML) `<|im_end|>`, Gemma `<end_of_turn>`, Phi-3 `<|end|>`.
 */
export const endOfTurnTokenTexts = ['<|eot_id|>', '<|im_end|>', '<end_of_turn>', '<|end|>'] as const

/**
 * Ids that end a turn besides `eosTokenId`: `tokenizer.ggml.eot_token_id` when the file has it, and every token of
 * the vocabulary spelled as one of endOfTurnTokenTexts (llama.cpp stops at all of them). A chat model whose EOS is
 * `<|end_of_text|>` but whose template closes turns with `<|eot_id|>` otherwise generates past the answer.
 * An eot id outside the vocabulary throws TillerError('file-corrupt') naming the field.
 */
export function endOfTurnTokenIdsFromGguf(file: GgufFile, eosTokenId: number): number[] {
  const tokens = ggufTokens(file)
  const ids: number[] = []
  const field = 'tokenizer.ggml.eot_token_id'
  const declared = metadataTokenId(file, field)
  if (declared !== undefined) {
    if (declared >= tokens.length) {
      throw new TillerError(
        'file-corrupt',
        `${file.path}: ${field} = ${declared} is outside the vocabulary of ${tokens.length} tokens. Convert the model again.`,
        { subject: `${file.path}: ${field}` },
      )
    }
    ids.push(declared)
  }
  const texts = new Set<string>(endOfTurnTokenTexts)
  tokens.forEach((token, id) => {
    if (texts.has(token)) ids.push(id)
  })
  return [...new Set(ids)].filter((id) => id !== eosTokenId)
}
