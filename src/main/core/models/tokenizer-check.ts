import { join } from 'node:path'
import type { TextTokenizer } from '../runtime/text-tokenizer.ts'
import { TillerError } from '../errors.ts'

/** A sentence every working tokenizer turns into some tokens and back. */
const probeText = 'Tiller checks the tokenizer.'

/**
 * Encode and decode a short sentence with a freshly loaded tokenizer. The tokenizers library loads some damaged
 * tokenizer.json files (a post-processor step that is not an object, a special token named by a number) and only
 * fails later, inside encode or decode, with a raw TypeError; this turns that into a TillerError at load time.
 */
export function checkTokenizerWorks(tokenizer: TextTokenizer, folder: string): void {
  let problem: string | undefined
  try {
    const tokenIds = tokenizer.encode(probeText, { add_special_tokens: true })
    if (tokenIds.length === 0) problem = 'it encodes text to no tokens'
    else if (!tokenIds.every((tokenId) => Number.isSafeInteger(tokenId))) {
      problem = 'it encodes text to token ids that are not whole numbers'
    } else tokenizer.decode(tokenIds, { skip_special_tokens: false })
  } catch (error) {
    problem = error instanceof Error ? error.message : String(error)
  }
  if (problem === undefined) return
  const path = join(folder, 'tokenizer.json')
  throw new TillerError(
    'file-corrupt',
    `The tokenizer in ${folder} loads but cannot encode text (${problem}); check tokenizer.json and ` +
      'tokenizer_config.json, or re-import the model with `tiller import`.',
    { subject: path },
  )
}
