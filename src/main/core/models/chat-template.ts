/**
 * Rendering a tokenizer's chat template safely. The template is Jinja from a model file, so it runs in the bounded
 * interpreter (`bounded-template.ts`) with the variables Transformers.js' `apply_chat_template` passes (messages,
 * add_generation_prompt, tools, documents and the special tokens), giving the same text for real templates; any
 * failure (syntax, `raise_exception`, an unknown operator, a limit) becomes one TillerError naming the file.
 */
import type { TextTokenizer } from '../runtime/text-tokenizer.ts'
import { TillerError } from '../errors.ts'
import {
  BoundedTemplate,
  defaultTemplateLimits,
  TemplateLimitError,
  TemplateRaisedError,
  type TemplateLimits,
} from './bounded-template.ts'

/** One chat message as templates read it. */
export interface TemplateMessage {
  role: string
  content: string
}

/** The special tokens Transformers.js passes to templates (its SPECIAL_TOKEN_ATTRIBUTES). */
const specialTokenNames = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const

/** Where each loaded tokenizer's template came from, for error messages. */
const templateSources = new WeakMap<TextTokenizer, string>()

/** Record the file a tokenizer's chat template was read from (its tokenizer_config.json). */
export function registerTemplateSource(tokenizer: TextTokenizer, source: string): void {
  templateSources.set(tokenizer, source)
}

/** The file a tokenizer's template came from, or a generic name when it was not recorded. */
export function templateSourceOf(tokenizer: TextTokenizer): string {
  return templateSources.get(tokenizer) ?? "the model's tokenizer_config.json"
}

/** Parsed templates by source text: parsing once per template keeps a fit's thousands of renders cheap. */
const compiled = new Map<string, BoundedTemplate | TillerError>()
const maximumCached = 16

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}

function describe(error: unknown): string {
  if (error instanceof TemplateLimitError) return `was stopped: ${error.message}`
  if (error instanceof TemplateRaisedError) return `raised an error: "${oneLine(error.message)}"`
  if (error instanceof RangeError) return `ran out of room (${oneLine(error.message)})`
  return `failed: ${oneLine(error instanceof Error ? error.message : String(error))}`
}

function failure(source: string, what: string, cause: unknown): TillerError {
  return new TillerError(
    'invalid-chat-template',
    `The chat template in ${source} ${what}; fix or remove its chat_template (chat-less formats still work).`,
    { subject: source, cause },
  )
}

/** Parse `template` (cached by its text); a template that does not parse throws a TillerError naming `source`. */
export function compileChatTemplate(
  template: string,
  source: string,
  limits: TemplateLimits = defaultTemplateLimits,
): BoundedTemplate {
  const useCache = limits === defaultTemplateLimits
  const cached = useCache ? compiled.get(template) : undefined
  if (cached instanceof TillerError) throw failure(source, cached.message, cached.cause)
  if (cached !== undefined) return cached
  let result: BoundedTemplate | TillerError
  try {
    result = new BoundedTemplate(template, limits)
  } catch (error) {
    const reason = oneLine(error instanceof Error ? error.message : String(error))
    result = new TillerError('invalid-chat-template', `does not parse (${reason})`, { cause: error })
  }
  if (useCache) {
    if (compiled.size >= maximumCached) compiled.delete(compiled.keys().next().value as string)
    compiled.set(template, result)
  }
  if (result instanceof TillerError) throw failure(source, result.message, result.cause)
  return result
}

/** Render `template` with the given globals under limits; failures are TillerErrors naming `source`. */
export function renderTemplateText(
  template: string,
  source: string,
  variables: Record<string, unknown>,
  limits: TemplateLimits = defaultTemplateLimits,
): string {
  const bounded = compileChatTemplate(template, source, limits)
  try {
    return bounded.render(variables)
  } catch (error) {
    throw failure(source, describe(error), error)
  }
}

/**
 * The template text of `tokenizer`: its `chat_template` string, or the "default" (else first) of named templates,
 * which Transformers.js keeps as a list or a name → template map. Undefined when the model has none.
 */
export function chatTemplateOf(tokenizer: TextTokenizer): string | undefined {
  const template: unknown = tokenizer.chat_template
  if (typeof template === 'string') return template.trim() === '' ? undefined : template
  if (Array.isArray(template)) {
    const named = template as { name?: unknown; template?: unknown }[]
    const entry = named.find((item) => item.name === 'default') ?? named[0]
    return typeof entry?.template === 'string' ? entry.template : undefined
  }
  if (typeof template === 'object' && template !== null) {
    const byName = template as Record<string, unknown>
    const entry = byName.default ?? Object.values(byName)[0]
    return typeof entry === 'string' ? entry : undefined
  }
  return undefined
}

/** The special-token globals of `tokenizer`'s config, as Transformers.js reads them (AddedToken → content). */
function specialTokens(tokenizer: TextTokenizer): Record<string, string> {
  const config = tokenizer.config
  const tokens: Record<string, string> = {}
  for (const name of specialTokenNames) {
    const value = config[name]
    if (typeof value === 'string' && value !== '') tokens[name] = value
    else if (typeof value === 'object' && value !== null && 'content' in value) {
      const content = (value as { content: unknown }).content
      if (typeof content === 'string' && content !== '') tokens[name] = content
    }
  }
  return tokens
}

/** Render `messages` through `template` (the tokenizer's own unless given) to text, as apply_chat_template does. */
export function renderChatTemplate(
  tokenizer: TextTokenizer,
  template: string,
  messages: readonly TemplateMessage[],
  addGenerationPrompt: boolean,
  limits: TemplateLimits = defaultTemplateLimits,
): string {
  return renderTemplateText(
    template,
    templateSourceOf(tokenizer),
    {
      messages,
      add_generation_prompt: addGenerationPrompt,
      tools: null,
      documents: null,
      ...specialTokens(tokenizer),
    },
    limits,
  )
}
