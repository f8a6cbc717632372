/** The lines of a JSONL file as the dataset screens read them: every non-blank line, parsed when it parses. */
import { filledLines } from '../data/lines.ts'

/** One non-blank line: its 1-based number, its text, and its JSON value (`parsed` false when it is not JSON). */
export interface JsonLine {
  number: number
  text: string
  parsed: boolean
  value: unknown
}

/** Every non-blank line of `bytes` (UTF-8), in order, with its parsed value when it is JSON. */
export function* jsonLines(bytes: Uint8Array): Generator<JsonLine> {
  const decoder = new TextDecoder()
  for (const { line: number, bytes: lineBytes } of filledLines(bytes)) {
    const text = decoder.decode(lineBytes)
    if (text.trim() === '') continue
    let parsed = true
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      parsed = false
    }
    yield { number, text, parsed, value }
  }
}
