/** Every failure Tiller reports to a user: a stable code plus a message naming the file, field or row and what to do. */
export type TillerErrorCode =
  | 'file-not-found'
  | 'file-corrupt'
  | 'unsupported-architecture'
  | 'unsupported-tensor-type'
  | 'shape-mismatch'
  | 'missing-tokenizer'
  | 'invalid-model-folder'
  | 'invalid-argument'
  | 'invalid-dataset'
  | 'invalid-chat-template'
  | 'model-mismatch'
  | 'unrepresentable-edit'
  | 'empty-prompt'
  | 'prompt-too-long'
  | 'provider-unavailable'
  | 'model-not-loaded'
  | 'network-unavailable'
  | 'cancelled'
  | 'internal'

export class TillerError extends Error {
  readonly code: TillerErrorCode
  /** The file, field or row the error is about, when there is one. */
  readonly subject: string | undefined

  constructor(code: TillerErrorCode, message: string, options: { subject?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'TillerError'
    this.code = code
    this.subject = options.subject
  }
}

/** Narrow an unknown thrown value to a TillerError with the given code. */
export function isTillerError(value: unknown, code?: TillerErrorCode): value is TillerError {
  return value instanceof TillerError && (code === undefined || value.code === code)
}

/**
 * A short, safe rendering of a value read from a user's file, for error messages: strings and numbers as they are
 * (cut to a few dozen characters), the kind for arrays and objects. `String()` of a deeply nested array recurses once per level
 * and overflows the stack; an error message must never be what crashes.
 */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (value === null) return 'null'
  if (value === undefined) return 'missing'
  if (typeof value === 'object') return 'an object'
  if (value === '') return 'an empty string'
  const text = String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}
