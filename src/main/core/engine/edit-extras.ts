/** What a read edit file's manifest says about the fit, in the shapes the engine holds edits with. */
import type { StrengthInfo } from '../../../shared/steering.ts'
import type { EditFile, EditFileExtras } from '../edits/edit-file.ts'

/** The manifest's fit record as extras for saving the edit again. */
export function extrasOfManifest(manifest: EditFile['manifest']): EditFileExtras {
  const extras: EditFileExtras = { strengthRange: manifest.strength.testedRange }
  const template = manifest.chatTemplate
  if (template !== null) {
    extras.chatTemplate =
      template.kind === 'chat-template' ? { ...template, systemPrompt: template.systemPrompt } : template
  }
  if (manifest.dataset !== null) extras.dataset = manifest.dataset
  if (manifest.evaluation !== null) extras.evaluation = manifest.evaluation
  return extras
}

/** The manifest's strength semantics. */
export function strengthOfManifest(manifest: EditFile['manifest']): StrengthInfo {
  return {
    description: manifest.strength.semantics,
    default: manifest.strength.default,
    testedRange: manifest.strength.testedRange,
  }
}
