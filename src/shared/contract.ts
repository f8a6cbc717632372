import { z } from 'zod'
import {
  chatEditSettingSchema,
  conversationIdSchema,
  conversationSchema,
  type ChatToken,
  type Conversation,
  type ConversationEntry,
} from './chat.ts'
import type { EventName, RequestName } from './contract-names.ts'
import { importFormats, type DemonstrationDocument, type RenderPreview } from './demonstrations.ts'
import type { LibraryEdit } from './edit-library.ts'
import { methodIds } from './edit.ts'
import type { EngineHealth } from './engine-health.ts'
import type { EngineStatus, LoadedModelInfo } from './engine-status.ts'
import { defaultFluencyLimit, type EvaluationRunList } from './evaluation.ts'
import type { GeneratedToken } from './generation.ts'
import type { ErrorInfo, JobDone, JobInfo, JobProgress, JobStarted } from './jobs.ts'
import type {
  ComparisonToken,
  DatasetIssue,
  DatasetList,
  DatasetPreview,
  EditSummary,
  MethodList,
  SavedFile,
} from './steering.ts'
import { variantNames } from './model-variants.ts'
import type { FolderListing, ModelDiscovery, ModelFootprint, StudioSettings } from './studio.ts'

/**
 * The one typed table between the renderer (or any client) and the engine (DESIGN.md §7).
 *
 * Requests map `domain:verb` to a zod schema for the single argument object and the result type; events map a
 * name to a payload type. Argument types are inferred from the schemas, so the schema is the only definition:
 * the engine parses every argument with it at the boundary. Results and event payloads come from the trusted
 * engine, so they are typed but not parsed. Payloads are plain data (JSON or structured clone), never class
 * instances. A new capability adds a row here and a name in `contract-names.ts`.
 */

/** A type carried at compile time only (results and event payloads are not parsed at run time). */
export interface Typed<T> {
  readonly type?: T
}

function typed<T>(): Typed<T> {
  return {}
}

/** The model side of the engine's state, pushed as `model:changed` whenever it moves. */
export interface ModelState {
  model: LoadedModelInfo | null
  /** The load job running now, if any. */
  loading: { jobId: string; path: string } | null
  /** Why no model is loaded, or why the last load failed: one sentence saying what to do. Null when fine. */
  problem: string | null
}

/** `engine:status`: what the first screen shows. */
export interface EngineStatusReport extends EngineStatus {
  modelLoading: ModelState['loading']
  modelProblem: string | null
}

/** Sampling settings of `generate:start`; defaults apply to omitted fields. */
export const generationOptionsSchema = z.strictObject({
  maxTokens: z.int().min(1).max(4096).default(128),
  /** 0 means greedy decoding. */
  temperature: z.number().min(0).max(5).default(0.7),
  /** 0 turns top-k off. */
  topK: z.int().min(0).max(100_000).default(0),
  topP: z.number().gt(0).max(1).default(1),
  repetitionPenalty: z.number().min(0.5).max(3).default(1),
  seed: z
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .default(0),
  stopStrings: z.array(z.string().min(1).max(200)).max(8).default([]),
})

export type GenerationOptions = z.output<typeof generationOptionsSchema>

const noArguments = z.strictObject({})

/** A file path from the user: trimmed, not empty. */
const pathArgument = (what: string) => z.string().trim().min(1, `Give the path of ${what}.`).max(4096)

/** An edit held by the engine, by the id `edit:fit`, `edit:load` or `edits:list` gave. */
const editIdArgument = z.string().trim().min(1, 'Choose an edit (fit or load one first).').max(200)

/** A workspace demonstration set's name: a file name without `.jsonl`. */
const datasetNameArgument = z
  .string()
  .trim()
  .min(1, 'Give the demonstration set a name.')
  .max(120)
  .regex(/^[\w][\w.-]*$/, 'Use letters, digits, dots, dashes and underscores in the name.')

/** One row of the demonstrations table; blank texts pass here so the validator can flag them on their line. */
const demonstrationRowSchema = z.strictObject({
  id: z.string().max(200),
  prompt: z.string().max(60_000),
  positive: z.string().max(60_000),
  negative: z.string().max(60_000),
  split: z.string().max(40).nullable(),
  tags: z.array(z.string().max(200)).max(50),
})

/** The request table. `satisfies` makes a missing or extra row (against `requestNames`) a compile error. */
export const requests = {
  'engine:status': { args: noArguments, result: typed<EngineStatusReport>() },
  'model:info': { args: noArguments, result: typed<ModelState>() },
  /** Load a model folder (replacing the current model); a job whose result is the model's info. */
  'model:load': {
    args: z.strictObject({
      path: z.string().trim().min(1, 'Give the path of a model folder.').max(4096),
      /** A Transformers.js graph variant of the folder; default the folder's default (model-variants.ts). */
      variant: z.enum(variantNames).optional(),
    }),
    result: typed<JobStarted>(),
  },
  /** Generate from one prompt with the loaded model; a job streaming `generate:token` events. */
  'generate:start': {
    args: z.strictObject({
      prompt: z.string().max(200_000),
      /** Apply the model's chat template (user turn + generation prompt). */
      chat: z.boolean().default(false),
      options: generationOptionsSchema.default(generationOptionsSchema.parse({})),
    }),
    result: typed<JobStarted>(),
  },
  'job:cancel': {
    args: z.strictObject({ id: z.string().min(1).max(200) }),
    result: typed<{ cancelled: boolean }>(),
  },
  'job:list': { args: noArguments, result: typed<JobInfo[]>() },
  /** The bundled demonstration sets, plus the file (or the .jsonl files of the folder) at `path` when given. */
  'datasets:list': {
    args: z.strictObject({ path: pathArgument('a demonstration file or folder').optional() }),
    result: typed<DatasetList>(),
  },
  /** The first `limit` rows of a demonstration file and every validation issue with its line number. */
  'datasets:preview': {
    args: z.strictObject({
      path: pathArgument('a demonstration file'),
      limit: z.int().min(0).max(500).default(20),
    }),
    result: typed<DatasetPreview>(),
  },
  /** The fitting methods with their options, defaults and the default layers for the loaded model. */
  'methods:list': { args: noArguments, result: typed<MethodList>() },
  /** Fit an edit on a demonstration file with the loaded model; a job (render → capture → fit). */
  'edit:fit': {
    args: z.strictObject({
      dataset: pathArgument('a demonstration file'),
      method: z.enum(methodIds),
      /** The method's options (checked against its own schema; unknown options are refused by name). */
      options: z.record(z.string(), z.unknown()).default({}),
    }),
    result: typed<JobStarted>(),
  },
  /** Edits held this session: fitted ones and loaded files. */
  'edits:list': { args: noArguments, result: typed<EditSummary[]>() },
  /** Read an edit file (`.safetensors`, or a llama.cpp control vector `.gguf`) for the loaded model. */
  'edit:load': {
    args: z.strictObject({ path: pathArgument('an edit file') }),
    result: typed<EditSummary>(),
  },
  /** Write an edit as a Tiller edit file (`.safetensors`), atomically. */
  'edit:save': {
    args: z.strictObject({ id: editIdArgument, path: pathArgument('the edit file to write') }),
    result: typed<SavedFile>(),
  },
  /** Export an additive resid_post edit as a llama.cpp control vector; other edits are refused with the reason. */
  'edit:export-gguf': {
    args: z.strictObject({ id: editIdArgument, path: pathArgument('the .gguf file to write') }),
    result: typed<SavedFile>(),
  },
  /** Generate one prompt at several strengths of an edit as rows of one batch; streams `compare:token`. */
  'chat:compare': {
    args: z.strictObject({
      prompt: z.string().max(200_000),
      chat: z.boolean().default(false),
      editId: editIdArgument,
      strengths: z.array(z.number().min(-1000).max(1000)).min(1, 'Give at least one strength.').max(8),
      options: generationOptionsSchema.default(generationOptionsSchema.parse({})),
    }),
    result: typed<JobStarted>(),
  },
  /** Saved conversations of the workspace's `chats` folder, newest first; unreadable files listed with why. */
  'chat:list': { args: noArguments, result: typed<ConversationEntry[]>() },
  'chat:load': { args: z.strictObject({ id: conversationIdSchema }), result: typed<Conversation>() },
  /** Write a conversation to `chats/<id>.json` atomically (replacing the saved one with that id). */
  'chat:save': {
    args: z.strictObject({ conversation: conversationSchema }),
    result: typed<ConversationEntry>(),
  },
  'chat:delete': {
    args: z.strictObject({ id: conversationIdSchema }),
    result: typed<{ deleted: boolean }>(),
  },
  /**
   * Answer the next user message in both columns as two rows of one batch with one seed: the base model on the
   * base column's history, the stacked edits (each at its strength, switched-off ones at 0) on the steered
   * column's. With no edit switched on, only the base column. A job streaming `chat:token`.
   */
  'chat:send': {
    args: z.strictObject({
      systemPrompt: z.string().max(20_000).default(''),
      /** Earlier exchanges; `steered` null where that turn had no steered reply (the base reply stands in). */
      history: z
        .array(
          z.strictObject({
            user: z.string().max(200_000),
            base: z.string().max(200_000),
            steered: z.string().max(200_000).nullable(),
          }),
        )
        .max(1000)
        .default([]),
      message: z.string().max(200_000),
      edits: z.array(chatEditSettingSchema).max(8, 'Stack at most 8 edits.').default([]),
      options: generationOptionsSchema.default(generationOptionsSchema.parse({})),
    }),
    result: typed<JobStarted>(),
  },
  /** Per-layer diagnostics of a demonstration file at a method's site, with a recommended layer; a job. */
  'diagnostics:layers': {
    args: z.strictObject({
      dataset: pathArgument('a demonstration file'),
      method: z.enum(methodIds).default('mean-diff'),
      /** The method's options (layers are ignored: every block is read). */
      options: z.record(z.string(), z.unknown()).default({}),
      /** Training pairs read, the first in file order. */
      maxPairs: z.int().min(4, 'Use at least 4 pairs.').max(1024).default(64),
      /**
       * A held edit (usually the one just fitted): the report adds the mean norms with it compiled in at
       * `strength` and the cosines between its directions and the other held edits' at its layers.
       */
      edit: z
        .strictObject({ id: z.string().min(1), strength: z.number().finite().min(-1e6).max(1e6) })
        .optional(),
    }),
    result: typed<JobStarted>(),
  },
  /**
   * Evaluate an edit on a multiple-choice file: a strength sweep on its validation items picks the strength,
   * test items give the final numbers, the other behaviours' item sets in its folder give side effects. A job;
   * the run is saved under the workspace's `runs/`.
   */
  'evaluation:run': {
    args: z.strictObject({
      editId: editIdArgument,
      dataset: pathArgument('a multiple-choice file'),
      /** The sweep's strengths; default: seven over the method's tested range, plus 0. */
      strengths: z
        .array(z.number().min(-1000).max(1000))
        .min(1, 'Give at least one strength.')
        .max(16, 'Sweep at most 16 strengths.')
        .optional(),
      /** Perplexity growth over the base that still counts as fluent (0.1 = +10 %). */
      fluencyLimit: z.number().gt(0).max(10).default(defaultFluencyLimit),
      /** At most this many items and texts per split and set (all when absent). */
      itemLimit: z.int().min(2, 'Use at least 2 items.').max(100_000).optional(),
      sideEffects: z.boolean().default(true),
    }),
    result: typed<JobStarted>(),
  },
  /** Evaluation runs saved in the workspace, newest first. */
  'evaluation:runs': { args: noArguments, result: typed<EvaluationRunList>() },
  /** Make `strength` the edit's default strength (e.g. the one an evaluation chose). */
  'edit:set-strength': {
    args: z.strictObject({ id: editIdArgument, strength: z.number().min(-1000).max(1000) }),
    result: typed<EditSummary>(),
  },
  // The studio's shell and Models screen (settings in the workspace, model discovery, the server-side picker).
  /** The studio's settings from the workspace's settings.json (defaults when the file is missing). */
  'settings:read': { args: noArguments, result: typed<StudioSettings>() },
  /** Change some settings; written atomically. Recent models are recorded by the engine when a load succeeds. */
  'settings:update': {
    args: z.strictObject({
      theme: z.enum(['system', 'light', 'dark']).optional(),
      welcomeDismissed: z.boolean().optional(),
    }),
    result: typed<StudioSettings>(),
  },
  /** The organism, recent models, models in the folders the user added, and the Hugging Face cache's ONNX models. */
  'models:discover': { args: noArguments, result: typed<ModelDiscovery>() },
  /** Remember a folder to look for models in (a model folder, or a folder of model folders). */
  'models:add-folder': {
    args: z.strictObject({ path: pathArgument('a folder of models') }),
    result: typed<StudioSettings>(),
  },
  'models:remove-folder': {
    args: z.strictObject({ path: pathArgument('a folder of models') }),
    result: typed<StudioSettings>(),
  },
  /** The loaded model's size on disk and expected memory. */
  'model:details': { args: noArguments, result: typed<ModelFootprint>() },
  /** Convert a GGUF model into an ONNX model folder (default: the workspace's models folder); a job. */
  'model:import-gguf': {
    args: z.strictObject({
      file: pathArgument('a .gguf model file'),
      out: pathArgument('the model folder to write').optional(),
    }),
    result: typed<JobStarted>(),
  },
  /** The folders and files in `path` (default: the home folder), for choosing a model or file in browser mode. */
  'files:list': {
    args: z.strictObject({ path: pathArgument('a folder').optional() }),
    result: typed<FolderListing>(),
  },
  // Demonstrations and the Edits library (the workspace's `datasets` and `edits` folders).
  /** The demonstration sets of the workspace's `datasets` folder, each with kind, rows and issues. */
  'demonstrations:list': { args: noArguments, result: typed<DatasetList>() },
  /** Open a workspace set for editing: every row, and every issue the fit would refuse it for. */
  'demonstrations:open': {
    args: z.strictObject({ name: datasetNameArgument }),
    result: typed<DemonstrationDocument>(),
  },
  /** Validate unsaved rows with the fit's validator; issue line i + 1 is row i. */
  'demonstrations:validate': {
    args: z.strictObject({ rows: z.array(demonstrationRowSchema).max(100_000) }),
    result: typed<DatasetIssue[]>(),
  },
  /** Write a set atomically (the previous version kept); `create` refuses a name already taken. */
  'demonstrations:save': {
    args: z.strictObject({
      name: datasetNameArgument,
      rows: z.array(demonstrationRowSchema).max(100_000),
      create: z.boolean().default(false),
    }),
    result: typed<DemonstrationDocument>(),
  },
  'demonstrations:delete': {
    args: z.strictObject({ name: datasetNameArgument }),
    result: typed<{ deleted: boolean }>(),
  },
  /** Convert files of another format into a new workspace set (plain text: a positive and a negative file). */
  'demonstrations:import': {
    args: z.strictObject({
      format: z.enum(importFormats),
      paths: z.array(pathArgument('the file to import')).min(1).max(2),
      name: datasetNameArgument,
      /** TruthfulQA: multiple-choice items or pairs. */
      truthfulqaTarget: z.enum(['mc1', 'mc2', 'pairs']).default('pairs'),
      /** Pairs from MC items: one pair per wrong choice, or with the first wrong choice only. */
      negatives: z.enum(['each', 'first']).default('each'),
    }),
    result: typed<DemonstrationDocument>(),
  },
  /** Write a workspace set to `path` as JSONL or CSV. */
  'demonstrations:export': {
    args: z.strictObject({ name: datasetNameArgument, path: pathArgument('the file to write') }),
    result: typed<SavedFile>(),
  },
  /** One row rendered by the loaded model's chat template, with each token's part (prompt or completion). */
  'demonstrations:render': {
    args: z.strictObject({ row: demonstrationRowSchema }),
    result: typed<RenderPreview>(),
  },
  /** The workspace's edit library: every fitted or imported edit, persisted with its manifest. */
  'library:list': { args: noArguments, result: typed<LibraryEdit[]>() },
  'library:update': {
    args: z.strictObject({
      id: editIdArgument,
      name: z.string().trim().min(1, 'Give the edit a name.').max(200).optional(),
      notes: z.string().max(20_000).optional(),
    }),
    result: typed<LibraryEdit>(),
  },
  'library:delete': { args: z.strictObject({ id: editIdArgument }), result: typed<{ deleted: boolean }>() },
  /** One edit applying several at once, each scaled by its strength; they must share a model. */
  'library:compose': {
    args: z.strictObject({
      name: z.string().trim().min(1, 'Give the composed edit a name.').max(200),
      parts: z
        .array(z.strictObject({ id: editIdArgument, strength: z.number().min(-1000).max(1000) }))
        .min(2, 'Choose at least two edits to compose.')
        .max(8),
    }),
    result: typed<LibraryEdit>(),
  },
  /** Add an edit file (Tiller `.safetensors`, llama.cpp `.gguf`, or a steered folder Tiller exported) to the library. */
  'library:import': {
    args: z.strictObject({ path: pathArgument('an edit file') }),
    result: typed<LibraryEdit>(),
  },
  /** Export the edit compiled into the loaded model as a standalone ONNX folder; a job. */
  'library:export-onnx': {
    args: z.strictObject({
      id: editIdArgument,
      path: pathArgument('the folder to write'),
      strength: z.number().min(-1000).max(1000).optional(),
      replace: z.boolean().default(false),
    }),
    result: typed<JobStarted>(),
  },
} satisfies Record<RequestName, { args: z.ZodType; result: Typed<unknown> }>

/** The event table. */
export const events = {
  'job:progress': typed<JobProgress>(),
  'job:done': typed<JobDone>(),
  'generate:token': typed<GeneratedToken>(),
  'model:changed': typed<ModelState>(),
  'compare:token': typed<ComparisonToken>(),
  'chat:token': typed<ChatToken>(),
  /** From the engine's supervisor, not the engine: the heartbeat watchdog's view (engine-health.ts). */
  'engine:health': typed<EngineHealth>(),
} satisfies Record<EventName, Typed<unknown>>

type RequestTable = typeof requests

/** What a caller passes (defaults may be omitted). */
export type RequestArgs<K extends RequestName> = z.input<RequestTable[K]['args']>
/** What the engine receives after parsing (defaults filled in). */
export type ParsedArgs<K extends RequestName> = z.output<RequestTable[K]['args']>
export type RequestResult<K extends RequestName> = NonNullable<RequestTable[K]['result']['type']>
export type EventPayload<K extends EventName> = NonNullable<(typeof events)[K]['type']>

/** One event as a tagged value, for transports that carry every event on one stream. */
export type ContractEvent = { [K in EventName]: { name: K; payload: EventPayload<K> } }[EventName]

/** A request's answer as it crosses a transport: transports never throw for engine failures. */
export type Outcome<T> = { ok: true; result: T } | { ok: false; error: ErrorInfo }

/** Removes a listener added with `subscribe`/`on`. */
export type Unsubscribe = () => void

/**
 * What the engine implements: every request, plus one stream of events. Implementations receive parsed
 * arguments only through `parseRequestArgs`, so the methods take the caller's raw (input-typed) value.
 */
export type ContractService = { [K in RequestName]: (args: RequestArgs<K>) => Promise<RequestResult<K>> } & {
  subscribe(listener: (event: ContractEvent) => void): Unsubscribe
}

/**
 * The raw client surface every carrier provides: Electron's `window.tiller`, the WebSocket bridge, the
 * in-memory pair. Requests resolve to an Outcome; `on` accepts only contract event names.
 */
export type TillerBridge = {
  [K in RequestName]: (args: RequestArgs<K>) => Promise<Outcome<RequestResult<K>>>
} & {
  on<K extends EventName>(name: K, listener: (payload: EventPayload<K>) => void): Unsubscribe
}

/**
 * Parse a request's argument with its schema: the boundary check every engine method runs first.
 * Throws the zod error; the carrier turns it into an `invalid-argument` ErrorInfo naming the field.
 */
export function parseRequestArgs<K extends RequestName>(name: K, args: unknown): ParsedArgs<K> {
  return requests[name].args.parse(args) as ParsedArgs<K>
}
