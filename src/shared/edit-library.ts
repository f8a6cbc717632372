/** Plain data of the Edits library screen: the persisted edits with what a user decides from. */
import type { EditSummary } from './steering.ts'

/** One edit of the workspace library. */
export interface LibraryEdit extends EditSummary {
  /** The name the user gave it (or the label until then). */
  name: string
  /** The demonstration set it was fitted on, when known. */
  datasetName: string | null
  /** Why it cannot be a llama.cpp control vector, or null when it can. */
  controlVectorProblem: string | null
  /** Evaluation runs recorded in its manifest. */
  evaluated: boolean
  /** The method options it was fitted with. */
  options: Record<string, unknown>
}
