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
    /(^|[\s`(])--[a-z]/.test(sentence) ||
    /`?(npx )?tiller [a-z]/.test(sentence) ||
    /(^|[\s`(])npm run [a-z]/.test(sentence)
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

/** Request fields as the studio's forms name them; others are spelled out from their last part. */
const fieldNames: Record<string, string> = {
  path: 'Model folder',
  dataset: 'Demonstration set',
  method: 'Method',
  layers: 'Layers',
  'options.layers': 'Layers',
  strength: 'Strength',
  strengths: 'Strengths',
  'edit.strength': 'Strength',
  'edit.id': 'Edit',
  editId: 'Edit',
  maxPairs: 'Pairs to read',
  message: 'Message',
  name: 'Name',
}

function fieldName(path: string): string {
  const known = fieldNames[path]
  if (known !== undefined) return known
  const last =
    path
      .split('.')
      .filter((part) => !/^\d+$/.test(part))
      .at(-1) ?? path
  const words = last.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/** A schema checker's own wording (zod's defaults) in plain words; a sentence written for people stays as it is. */
function plainRule(rule: string): string {
  const bound = /^Too (?:big|small): expected \w+ to (?:be|have) ([<>])=?\s*([\d.e+-]+)(?: (\w+))?/.exec(rule)
  if (bound !== null) {
    const [, relation, limit, unit] = bound
    return `must be ${relation === '<' ? 'at most' : 'at least'} ${limit}${unit === undefined ? '' : ` ${unit}`}`
  }
  if (/^Invalid input: expected \w+, received undefined$/.test(rule)) return 'is missing'
  const expected = /^Invalid input: expected (\w+), received \w+$/.exec(rule)
  if (expected !== null) return `must be ${expected[1] === 'number' ? 'a number' : `a ${expected[1]}`}`
  if (/^Unrecognized key/.test(rule)) return 'is not something this form sends'
  return rule
}

/**
 * The engine's "Invalid options.layers: …" (a request's schema path and the checker's rule) as the form's field
 * and a plain rule: "Layers: must be at most 1000."
 */
function withoutSchemaPath(message: string): string {
  const match = /^Invalid ([\w.[\]]+): (.*?)\.*$/s.exec(message.trim())
  if (match === null) return message
  const [, path = '', rule = ''] = match
  return `${fieldName(path)}: ${plainRule(rule.trim())}.`
}

/** Environment variables named in parentheses ("…, set by TILLER_CACHE") are for the command line too. */
function withoutVariables(message: string): string {
  return message.replace(/,? set by [A-Z][A-Z0-9_]+(?=\))/g, '')
}

/** `message` without its command-line advice (all of it when nothing else is left). */
export function studioWords(engineMessage: string): string {
  const message = withoutVariables(withoutSchemaPath(engineMessage))
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
