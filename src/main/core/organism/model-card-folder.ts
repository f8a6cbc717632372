import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { TillerError } from '../errors.ts'
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

/**
 * Bytes of every file in `folder` but the model card, so the size the card reports does not depend on the card
 * itself and a re-rendered card is identical to the committed one.
 */
export async function folderBytesWithoutCard(folder: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(folder, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || (entry.parentPath === folder && entry.name === modelCardFile)) continue
    total += (await stat(join(entry.parentPath, entry.name))).size
  }
  return total
}

async function readRecord<T>(folder: string, name: string): Promise<T> {
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
    folderBytes: await folderBytesWithoutCard(folder),
    ...(evaluation.steering === null ? {} : { steering: evaluation.steering }),
    ...(evaluation.steeringNote === null ? {} : { steeringNote: evaluation.steeringNote }),
    ...(evaluation.separation === null ? {} : { separation: evaluation.separation }),
  })
}
