/**
 * Plain data the steering studio exchanges with the engine: demonstration sets as listed and previewed, methods
 * with their options, fitted edits and strength comparisons. Edits cross the bridge by id only; their vectors stay
 * in the engine.
 */
import type { HookSite, MethodId } from './edit.ts'
import type { FinishReason } from './generation.ts'

/** What a demonstration file holds: contrast pairs, labelled completions, MC items or plain texts. */
export type DatasetKind = 'pairs' | 'labelled' | 'choices' | 'text' | 'unknown'

/** One demonstration file as `datasets:list` reports it. */
export interface DatasetEntry {
  /** File name without `.jsonl`, e.g. `sentiment.pairs`. */
  name: string
  /** The behaviour the set demonstrates: the name's first dot-separated part, e.g. `sentiment`. */
  behaviour: string
  /** Absolute path; pass it to `datasets:preview` and `edit:fit`. */
  path: string
  kind: DatasetKind
  /** Rows that passed validation. */
  rows: number
  /** Contrast pairs a fit would use (split `train` or no split); 0 when the kind cannot be fitted on. */
  trainPairs: number
  /** Lines rejected by validation. */
  issues: number
  /** Shipped with Tiller (resources/datasets) rather than given by the user. */
  bundled: boolean
}

/** `datasets:list`'s answer. */
export interface DatasetList {
  datasets: DatasetEntry[]
  /** Where the bundled sets were looked for and found, or null when the folder is missing. */
  bundledDirectory: string | null
}

/** One problem in a demonstration file, tied to its line (1-based). */
export interface DatasetIssue {
  line: number
  code: string
  field?: string
  message: string
}

/** One previewed row; `kind` says which fields it has. */
export type DatasetRow =
  | {
      kind: 'pairs'
      line: number
      id: string
      split: string | null
      prompt: string
      positive: string
      negative: string
    }
  | {
      kind: 'labelled'
      line: number
      id: string
      split: string | null
      prompt: string
      completion: string
      label: string
    }
  | {
      kind: 'choices'
      line: number
      id: string
      split: string | null
      question: string
      choices: string[]
      correct: number[]
    }
  | { kind: 'text'; line: number; id: string; split: string | null; text: string }

/** `datasets:preview`'s answer: the first rows and every validation issue (up to a cap). */
export interface DatasetPreview {
  entry: DatasetEntry
  rows: DatasetRow[]
  issues: DatasetIssue[]
  /** Issues beyond those listed. */
  moreIssues: number
}

/** How an option is edited in a form. */
export type OptionKind = 'layers' | 'number' | 'integer' | 'choice' | 'boolean' | 'text'

/** One method option as plain JSON: enough to build a form field and check it before sending. */
export interface OptionDescription {
  name: string
  kind: OptionKind
  description: string
  /** The default value (JSON), or null when the option defaults to something the model decides (layers). */
  default: unknown
  /** May be left out. */
  optional: boolean
  choices?: string[]
  minimum?: number
  maximum?: number
  /** For `layers`: how many blocks at most (1 for single-layer methods). */
  maxItems?: number
}

/** How the runtime strength α acts on a method's edit, and the range its paper tested. */
export interface StrengthInfo {
  description: string
  default: number
  testedRange: [number, number]
}

/** One fitting method as `methods:list` reports it. */
export interface MethodDescription {
  id: MethodId
  summary: string
  /** Where it captures and reads activations. */
  site: HookSite
  selector: string
  options: OptionDescription[]
  /** The defaults as JSON (layers left to the model when absent). */
  defaults: Record<string, unknown>
  /** The blocks the defaults resolve to on the loaded model; null when no model is loaded. */
  defaultLayers: number[] | null
  strength: StrengthInfo
}

/** `methods:list`'s answer. */
export interface MethodList {
  methods: MethodDescription[]
  /** Decoder blocks of the loaded model, or null when none is loaded. */
  layerCount: number | null
}

/** What a fit produced, as its job reports it and `tiller fit --json` prints it. */
export interface FitSummary {
  method: MethodId
  site: HookSite
  selector: string
  /** 0-based decoder blocks fitted at. */
  layers: number[]
  interventions: number
  /** Contrast pairs fitted on. */
  pairs: number
  /** The demonstration file and the canonical hash of its rows. */
  dataset: { source: string; hash: string; size: number }
  /** Per-layer norms, explained variance and similar, one line each. */
  notes: string[]
}

/** Job result of `edit:fit`. */
export interface FitResult {
  editId: string
  summary: FitSummary
}

/** One edit held by the engine, as `edits:list` reports it. */
export interface EditSummary {
  id: string
  method: MethodId
  /** Short human name, e.g. `mean-diff · sentiment.pairs · layer 2`. */
  label: string
  /** Fitted in this session, or read from a file. */
  origin: 'fitted' | 'file'
  /** The file it was read from or last saved to. */
  path: string | null
  /** ISO 8601. */
  created: string
  layers: number[]
  sites: HookSite[]
  interventions: number
  notes: string
  dataset: { hash: string; size: number } | null
  strength: StrengthInfo
  /** Whether the edit was fitted on the loaded model; null when no model is loaded. */
  matchesModel: boolean | null
  /** Where Save proposes to write it. */
  suggestedPath: string
}

/** Answer of `edit:save` and `edit:export-gguf`. */
export interface SavedFile {
  path: string
  bytes: number
}

/** A streamed piece of one row of a comparison (event `compare:token`). */
export interface ComparisonToken {
  job: string
  row: number
  token: number
  /** Text that extends the row's decoded output (may be empty until a character completes). */
  text: string
}

/** One row of a finished comparison. */
export interface ComparisonRowResult {
  strength: number
  text: string
  finishReason: FinishReason
  generatedTokens: number
}

/** Job result of `chat:compare`: one row per strength, in the order asked. */
export interface ComparisonResult {
  editId: string
  promptTokens: number
  rows: ComparisonRowResult[]
  tokensPerSecond: number
}
