/**
 * Errors in the studio's words. Engine messages are written for every front end, so some end with advice for the
 * command line (`pass --model DIR`, `run tiller import --help`); in the studio those sentences are dropped, and
 * the few codes that mean "the engine is not there" get one plain sentence instead of a transport's wording.
 */

/** Codes whose own message is about the transport rather than the user's work. */
const plainByCode: Record<string, string> = {
  disconnected: 'The engine is not connected. Tiller is reconnecting; try again in a moment.',
  forbidden: 'This window may not use the engine. Reopen Tiller.',
}

/** A sentence is command-line advice when it names a flag, a `tiller` command or an npm script. */
function isCommandLineAdvice(sentence: string): boolean {
  return (
    /(^|[\s`(])--[a-z]/.test(sentence) || /`?(npx )?tiller [a-z]/.test(sentence) || /`npm run /.test(sentence)
  )
}

/** One sentence without its command-line clauses (split at semicolons); '' when nothing else is left. */
function withoutAdvice(sentence: string): string {
  const clauses = sentence.trim().split(/;\s+/)
  const kept = clauses.filter((clause) => !isCommandLineAdvice(clause))
  if (kept.length === clauses.length) return sentence.trim()
  if (kept.length === 0) return ''
  return `${kept.join('; ').replace(/[.!?]*$/, '')}.`
}

/** `message` without its command-line advice (all of it when nothing else is left). */
export function studioWords(message: string): string {
  // A sentence ends at . ! or ? before a space, so `model.onnx` and version numbers stay whole.
  const sentences = message.split(/(?<=[.!?])\s+/)
  const text = sentences
    .map(withoutAdvice)
    .filter((sentence) => sentence !== '')
    .join(' ')
  return text === '' ? message : text
}

/** The message to show for anything a request threw. */
export function messageOf(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  if (typeof code === 'string' && plainByCode[code] !== undefined) return plainByCode[code]
  return studioWords(error instanceof Error ? error.message : String(error))
}
