/**
 * What the studio's shell and Models screen exchange with the engine: settings kept in the workspace, models found
 * on disk, folder listings for the server-side picker, the loaded model's footprint and the engine's health.
 */
import type { DefaultVariant, ModelVariant } from './model-variants.ts'

/** The colour scheme: follow the operating system, or a fixed choice. */
export type ThemeChoice = 'system' | 'light' | 'dark'

/** A model folder the studio loaded before, newest first in the settings. */
export interface RecentModel {
  path: string
  name: string
  architecture: string
  /** Milliseconds since the Unix epoch. */
  loadedAt: number
}

/** The studio's settings, as `settings.json` in the workspace holds them. */
export interface StudioSettings {
  theme: ThemeChoice
  recentModels: RecentModel[]
  /** Folders the user added to look for models in (a model folder, or a folder of model folders). */
  modelFolders: string[]
  /** The first-run welcome (chat with the organism, fit a first edit) was closed. */
  welcomeDismissed: boolean
}

/** Where a discovered model was found. */
export type ModelSource = 'organism' | 'folder' | 'hugging-face'

/** A model folder found on disk: enough to list it and decide to load it. */
export interface DiscoveredModel {
  path: string
  name: string
  source: ModelSource
  /** `architectures[0]` of config.json, or `model_type`, when present. */
  architecture: string | null
  layers: number | null
  hiddenSize: number | null
  /** Bytes of every file in the folder (symbolic links followed, as the Hugging Face cache uses them). */
  sizeBytes: number
  /** The ONNX graphs in the folder, relative to it. */
  onnxFiles: string[]
  /** Its Transformers.js graph variants (fp32, fp16, q4, …) with sizes; the Models screen offers the choice. */
  variants?: ModelVariant[]
  /** The variant loaded when none is chosen, and why; null when the folder has no variants. */
  defaultVariant?: DefaultVariant | null
  /** The Hugging Face repository (`owner/name`) and revision, for models from its cache. */
  repository?: string
  revision?: string
}

/** `models:discover`: everything the Models screen lists. */
export interface ModelDiscovery {
  organism: DiscoveredModel | null
  /** Why the organism is missing, when it is. */
  organismProblem: string | null
  recent: RecentModel[]
  folders: { folder: string; models: DiscoveredModel[]; problem: string | null }[]
  huggingFace: { cacheFolder: string; exists: boolean; models: DiscoveredModel[] }
}

/** One entry of a folder listing. */
export interface FolderEntry {
  name: string
  path: string
  kind: 'folder' | 'file'
  /** True for a folder holding config.json and an ONNX graph. */
  isModel: boolean
  /** Bytes, for files. */
  sizeBytes: number | null
}

/** `files:list`: the server-side file picker's view of one folder. */
export interface FolderListing {
  path: string
  /** The folder above, or null at a root. */
  parent: string | null
  entries: FolderEntry[]
  /** Entries left out because they could not be read (permissions, broken links), said rather than hidden. */
  unreadable: { name: string; reason: string }[]
  /** Good places to start: the home folder, the workspace, file-system roots. */
  places: { label: string; path: string }[]
}

/** `model:details`: the loaded model's footprint. */
export interface ModelFootprint {
  path: string
  sizeBytes: number
  /** Weights plus the key/value cache at the full context, in bytes: a planning figure, not a measurement. */
  expectedMemoryBytes: number
  contextLength: number | null
}

/** The `import-gguf` job's result. */
export interface ImportedModel {
  folder: string
  name: string
  sourceFile: string
  layers: number
  hiddenSize: number
}
