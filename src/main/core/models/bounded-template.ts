/**
 * A Jinja interpreter with limits, for chat templates that come from untrusted files (a GGUF's metadata, a
 * downloaded tokenizer_config.json). It is @huggingface/jinja's interpreter (the one Transformers.js renders with)
 * plus a budget: every evaluated node and every loop iteration costs a step, every value it produces is checked
 * for size, `range()` refuses to build huge lists, and a clock is read every few hundred steps. Rendering stays on
 * the caller's thread, so a template costs what it costs in Transformers.js (no worker round trip per render), and
 * a hostile one stops at the first limit it crosses with a `TemplateLimitError`.
 *
 * The library loads on the first template parsed, through its CommonJS build (a synchronous require keeps parsing
 * and rendering synchronous): commands that never render a template, like a plain `tiller generate`, do not pay
 * the ~20 ms of CPU its import costs at start-up.
 */
import { createRequire } from 'node:module'
import type { Environment, Interpreter, Template } from '@huggingface/jinja'

/** What one render may use. */
export interface TemplateLimits {
  /** Evaluated nodes plus loop iterations. */
  steps: number
  /** Wall-clock budget of one render. */
  milliseconds: number
  /** Longest string any expression may produce, the rendered text included. */
  characters: number
  /** Longest list any expression may produce, `range()` included. */
  items: number
}

/**
 * Real chat templates take a few thousand steps and produce a few kilobytes per conversation; these limits leave
 * three orders of magnitude of headroom and stop a runaway template within about two seconds and tens of MB.
 */
export const defaultTemplateLimits: TemplateLimits = {
  steps: 1_000_000,
  milliseconds: 2000,
  characters: 4_000_000,
  items: 1_000_000,
}

/** A template crossed one of its limits; the message says which. */
export class TemplateLimitError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TemplateLimitError'
  }
}

/** `raise_exception(message)` was called by the template. */
export class TemplateRaisedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TemplateRaisedError'
  }
}

type Statement = Parameters<Interpreter['evaluate']>[0] & object
type RuntimeValue = ReturnType<Interpreter['evaluate']>

/** How often the clock is read: reading it every step would cost more than most steps. */
const stepsPerClockRead = 256

/** A marker statement put at the top of every loop body and macro so that even empty ones pay per iteration. */
const tick = { type: 'Comment', value: '' } as unknown as Statement

/** The parts of @huggingface/jinja used here, and the interpreter subclass built on its Interpreter. */
interface TemplateEngine {
  Environment: typeof Environment
  Template: typeof Template
  BoundedInterpreter: new (environment: Environment, limits: TemplateLimits) => Interpreter
}

let loadedEngine: TemplateEngine | undefined

function templateEngine(): TemplateEngine {
  if (loadedEngine === undefined) {
    const jinja = createRequire(import.meta.url)('@huggingface/jinja') as typeof import('@huggingface/jinja')
    loadedEngine = {
      Environment: jinja.Environment,
      Template: jinja.Template,
      BoundedInterpreter: boundedInterpreterClass(jinja.Interpreter),
    }
  }
  return loadedEngine
}

/** The interpreter that counts steps and checks sizes, as a subclass of the loaded library's Interpreter. */
function boundedInterpreterClass(base: typeof Interpreter) {
  return class BoundedInterpreter extends base {
    private steps = 0
    private readonly deadline: number

    constructor(
      environment: Environment,
      private readonly limits: TemplateLimits,
    ) {
      super(environment)
      this.deadline = performance.now() + limits.milliseconds
    }

    override evaluate(statement: Statement | undefined, environment: Environment): RuntimeValue {
      this.steps += 1
      if (this.steps > this.limits.steps) {
        throw new TemplateLimitError(`it did not finish within ${this.limits.steps} steps (a loop too long?)`)
      }
      if (this.steps % stepsPerClockRead === 0 && performance.now() > this.deadline) {
        throw new TemplateLimitError(`it did not finish within ${this.limits.milliseconds} ms`)
      }
      const value = super.evaluate(statement, environment)
      this.checkSize(value)
      return value
    }

    private checkSize(value: RuntimeValue): void {
      if (value.type === 'StringValue' && (value.value as string).length > this.limits.characters) {
        throw new TemplateLimitError(`it produced text longer than ${this.limits.characters} characters`)
      }
      if (
        (value.type === 'ArrayValue' || value.type === 'TupleValue') &&
        (value.value as unknown[]).length > this.limits.items
      ) {
        throw new TemplateLimitError(`it produced a list longer than ${this.limits.items} items`)
      }
    }
  }
}

/** Put `tick` first in every loop body and macro body of the parsed template, recursively. */
function addTicks(node: unknown): void {
  if (Array.isArray(node)) {
    for (const child of node) addTicks(child)
    return
  }
  if (typeof node !== 'object' || node === null) return
  const record = node as Record<string, unknown>
  for (const value of Object.values(record)) addTicks(value)
  if ((record.type === 'For' || record.type === 'Macro') && Array.isArray(record.body)) {
    record.body.unshift(tick)
  }
}

/** Python's `range`, refusing lists over `items` before building them. */
function boundedRange(items: number) {
  return (start: number, stop?: number, step = 1): number[] => {
    const [first, end] = stop === undefined ? [0, start] : [start, stop]
    if (step === 0) throw new Error('range() step must not be zero')
    const count = Math.max(0, Math.ceil((end - first) / step))
    if (!Number.isFinite(count) || count > items) {
      throw new TemplateLimitError(`it asked for range() of ${count} items, over the limit of ${items}`)
    }
    return Array.from({ length: count }, (_, index) => first + index * step)
  }
}

function pad2(value: number): string {
  return value < 10 ? `0${value}` : String(value)
}

/** The `strftime_now` global of Transformers.js templates: %Y %m %d %b %B %H %M and %% of the current time. */
function strftimeNow(format: string): string {
  const now = new Date()
  const directives: Record<string, () => string> = {
    '%Y': () => String(now.getFullYear()),
    '%m': () => pad2(now.getMonth() + 1),
    '%d': () => pad2(now.getDate()),
    '%b': () => new Intl.DateTimeFormat(undefined, { month: 'short' }).format(now),
    '%B': () => new Intl.DateTimeFormat(undefined, { month: 'long' }).format(now),
    '%H': () => pad2(now.getHours()),
    '%M': () => pad2(now.getMinutes()),
    '%%': () => '%',
  }
  return format.replace(/%[YmdbBHM%]/g, (directive) => directives[directive]?.() ?? directive)
}

/** A parsed template that renders under limits. Parsing throws the parser's own errors (syntax). */
export class BoundedTemplate {
  private readonly program: Template['parsed']

  constructor(
    source: string,
    private readonly limits: TemplateLimits = defaultTemplateLimits,
  ) {
    // Template's constructor lexes with lstrip_blocks and trim_blocks, as Transformers.js does.
    this.program = new (templateEngine().Template)(source).parsed
    addTicks(this.program)
  }

  /** Render with `variables` as the template's globals. */
  render(variables: Record<string, unknown>): string {
    const engine = templateEngine()
    const environment = new engine.Environment()
    const globals: Record<string, unknown> = {
      false: false,
      true: true,
      none: null,
      False: false,
      True: true,
      None: null,
      raise_exception: (message: unknown) => {
        throw new TemplateRaisedError(String(message))
      },
      range: boundedRange(this.limits.items),
      strftime_now: strftimeNow,
    }
    for (const [name, value] of Object.entries({ ...globals, ...variables })) environment.set(name, value)
    const result = new engine.BoundedInterpreter(environment, this.limits).run(this.program)
    if (result.type !== 'StringValue') throw new Error('the template did not render to text')
    return result.value as string
  }
}
