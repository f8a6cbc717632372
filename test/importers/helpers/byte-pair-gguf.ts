import type { GgufMetadataValue } from '../../../src/main/core/gguf/writer.ts'

/**
 * A tiny byte-level BPE vocabulary in GGUF form (`tokenizer.ggml.model` "gpt2"): the 256 byte tokens in GPT-2's
 * byte-to-character table, a few merged tokens with their merges, one control token, and UNUSED padding up to
 * `size` tokens, as llama.cpp's converter pads a vocabulary to the model's embedding rows.
 */
export function tinyBytePairMetadata(
  size: number,
  preType = 'llama-bpe',
): Record<string, GgufMetadataValue | undefined> {
  const printable = (byte: number) =>
    (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff)
  let next = 256
  const tokens = Array.from({ length: 256 }, (_, byte) =>
    String.fromCodePoint(printable(byte) ? byte : next++),
  )
  const merges = ['Ġ t', 'h e', 'Ġt he', 'i n', 'Ġ a', 'e r']
  tokens.push(...merges.map((merge) => merge.replace(' ', '')), '<|endoftext|>')
  const types: number[] = tokens.map((token) => (token === '<|endoftext|>' ? 3 : 1))
  while (tokens.length < size) {
    types.push(5)
    tokens.push(`[PAD${tokens.length}]`)
  }
  const endOfText = tokens.indexOf('<|endoftext|>')
  return {
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: preType },
    'tokenizer.ggml.tokens': { type: 'array', elementType: 'string', value: tokens.slice(0, size) },
    'tokenizer.ggml.token_type': { type: 'array', elementType: 'int32', value: types.slice(0, size) },
    'tokenizer.ggml.merges': { type: 'array', elementType: 'string', value: merges },
    'tokenizer.ggml.scores': undefined,
    'tokenizer.ggml.unknown_token_id': undefined,
    'tokenizer.ggml.bos_token_id': { type: 'uint32', value: endOfText },
    'tokenizer.ggml.eos_token_id': { type: 'uint32', value: endOfText },
  }
}
