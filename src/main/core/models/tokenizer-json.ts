/**
 * Pieces of Hugging Face `tokenizer.json` that Tiller's generated tokenizers (the byte tokenizer of random test
 * models, the organism's word tokenizer) write alike.
 */

/** One `added_tokens` entry of tokenizer.json. */
export interface AddedToken {
  id: number
  content: string
  single_word: boolean
  lstrip: boolean
  rstrip: boolean
  normalized: boolean
  special: boolean
}

/** `added_tokens` for special tokens that take ids 0, 1, … in the order given, matched verbatim. */
export function specialAddedTokens(tokens: readonly string[]): AddedToken[] {
  return tokens.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }))
}
