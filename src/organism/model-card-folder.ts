import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { TillerError } from '../main/core/errors.ts'
import { renderModelCard } from './model-card.ts'
import {
  evaluationRecordFile,
  trainingRecordFile,
  type EvaluationRecord,
  type TrainingRecord,
} from './training-record.ts'
import type { World } from './world.ts'

/** File name of the model card inside the model folder. */
export const modelCardFile = 'README.md'

/** Bytes of every file below `folder`, except the files named in `excluded` directly inside it. */
export async function folderBytes(folder: string, excluded: readonly string[] = []): Promise<number> {
  let total = 0
  for (const entry of await readdir(folder, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || (entry.parentPath === folder && excluded.includes(entry.name))) continue
    total += (await stat(join(entry.parentPath, entry.name))).size
  }
  return total
}

/** One JSON record of an organism folder (`training.json`, `evaluation.json`), with typed errors naming the file. */
export async function readRecord<T>(folder: string, name: string): Promise<T> {
  const path = join(folder, name)
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    throw new TillerError(
      'file-not-found',
      `${path} is missing: run \`npm run organism:train\` (or \`-- --evaluate-only\` for ${evaluationRecordFile}).`,
      { subject: path, cause: error },
    )
  })
  try {
    return JSON.parse(text) as T
  } catch (error) {
    throw new TillerError('file-corrupt', `${path} is not valid JSON; re-run \`npm run organism:train\`.`, {
      subject: path,
      cause: error,
    })
  }
}

/** The model card of an organism folder, rendered from the training and evaluation records beside its weights. */
export async function renderFolderModelCard(world: World, folder: string): Promise<string> {
  const record = await readRecord<TrainingRecord>(folder, trainingRecordFile)
  const evaluation = await readRecord<EvaluationRecord>(folder, evaluationRecordFile)
  return renderModelCard({
    world,
    record,
    base: evaluation.base,
    // Without the card, so the size it reports does not depend on itself and a re-render is identical.
    folderBytes: await folderBytes(folder, [modelCardFile]),
    ...(evaluation.steering === null ? {} : { steering: evaluation.steering }),
    ...(evaluation.steeringNote === null ? {} : { steeringNote: evaluation.steeringNote }),
    ...(evaluation.separation === null ? {} : { separation: evaluation.separation }),
  })
}
