/**
 * The fitting methods as plain JSON for a form: each option's kind, bounds, choices and default read from the
 * method's zod schema (through its JSON Schema), a sentence per option, and the layers the defaults resolve to on
 * the loaded model.
 */
import { z } from 'zod'
import type { MethodDescription, OptionDescription, OptionKind } from '../../../shared/steering.ts'
import { methods, type AnyMethod } from '../methods/index.ts'

/** What shared options mean, for options whose schema carries no `.describe()` sentence of its own. */
const optionSentences: Record<string, string> = {
  layers: '0-based decoder blocks to fit at; leave empty for the default.',
  coefficient: 'c, multiplied into the steering tensor at fit time.',
  selector: 'Which tokens are read: the mean over the completion, or the last prompt token.',
  positiveVariance: 'K⁺ in (0, 1): keep the fewest top directions of Ω⁺ explaining this share of Σσ².',
  negativeVariance: 'K⁻ in (0, 1): remove the fewest top directions of Ω⁻ explaining this share of Σσ².',
  merge:
    'How the kept and removed projections combine: norm (keep each token’s ‖h‖), feature-norm (the released code: ' +
    'keep each feature’s norm over the tokens of one pass), average or sum.',
  site: 'Where the edit is applied: resid_post (where it was estimated) or mlp_out (the released code).',
  neutralMaxNewTokens: 'Greedy tokens generated per prompt for the neutral activations.',
  centering: 'Subtract each matrix’s mean over samples first (off in the paper’s runs).',
  phi: 'The elementwise feature map φ of Φ-SEA.',
  phiMode: 'paper: φ⁻¹(Pφ(h)); code: φ⁻¹(Ph), the released inference (reproduction only).',
}

type JsonSchema = {
  type?: string | string[]
  description?: string
  enum?: unknown[]
  items?: JsonSchema
  minimum?: number
  maximum?: number
  minItems?: number
  maxItems?: number
  properties?: Record<string, JsonSchema>
  required?: string[]
}

/** JavaScript's safe-integer bound, which zod writes as the maximum of every `int()`: no bound for a user. */
const unbounded = Number.MAX_SAFE_INTEGER

function kindOf(name: string, schema: JsonSchema): OptionKind {
  if (schema.type === 'array' && (schema.items?.type === 'integer' || name === 'layers')) return 'layers'
  if (schema.enum !== undefined) return 'choice'
  if (schema.type === 'integer') return 'integer'
  if (schema.type === 'number') return 'number'
  if (schema.type === 'boolean') return 'boolean'
  return 'text'
}

function describeOption(
  name: string,
  schema: JsonSchema,
  required: boolean,
  defaults: Record<string, unknown>,
): OptionDescription {
  const kind = kindOf(name, schema)
  const option: OptionDescription = {
    name,
    kind,
    description: schema.description ?? optionSentences[name] ?? name,
    default: defaults[name] ?? null,
    optional: !required,
  }
  if (schema.enum !== undefined) option.choices = schema.enum.map(String)
  if (kind === 'layers') {
    if (schema.maxItems !== undefined) option.maxItems = schema.maxItems
    if (schema.items?.minimum !== undefined) option.minimum = schema.items.minimum
  } else {
    if (schema.minimum !== undefined) option.minimum = schema.minimum
    if (schema.maximum !== undefined && schema.maximum < unbounded) option.maximum = schema.maximum
  }
  return option
}

/** A method as plain JSON; `layerCount` resolves the default layers (null when no model is loaded). */
export function describeMethod(method: AnyMethod, layerCount: number | null): MethodDescription {
  const schema = z.toJSONSchema(method.optionsSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema
  const required = new Set(schema.required ?? [])
  const defaults = JSON.parse(JSON.stringify(method.defaults)) as Record<string, unknown>
  const options = Object.entries(schema.properties ?? {}).map(([name, property]) =>
    describeOption(name, property, required.has(name), defaults),
  )
  // The capture request fixes the site and selector; with no model, resolve against one block to read them.
  const capture = method.capture(method.defaults, layerCount ?? 1)
  return {
    id: method.id,
    summary: method.summary,
    site: capture.site,
    selector: capture.selector,
    options,
    defaults,
    defaultLayers: layerCount === null ? null : capture.layers,
    strength: { ...method.strength, testedRange: [...method.strength.testedRange] },
  }
}

/** Every registered method, in registry order. */
export function describeMethods(layerCount: number | null): MethodDescription[] {
  return Object.values(methods).map((method) => describeMethod(method as AnyMethod, layerCount))
}
