/**
 * The studio's settings in the workspace's `settings.json`: the theme, the recently loaded models and the folders
 * the user added to look for models in. The file is plain JSON a user may edit; a missing file means the
 * defaults, and a damaged one is set aside (renamed `settings.json.damaged-<time>`) so the studio still starts,
 * with the reason reported once. Every write is atomic.
 */
import { readFile, rename } from 'node:fs/promises'
import { resolve } from 'node:path'
import { z } from 'zod'
import type { RecentModel, StudioSettings } from '../../../shared/studio.ts'
import { writeFileAtomicCreatingFolder } from './atomic-write.ts'
import { workspaceSettingsPath } from './workspace-root.ts'

/** How many recent models the studio remembers. */
export const recentModelLimit = 12

const recentModelSchema = z.object({
  path: z.string().min(1),
  name: z.string(),
  architecture: z.string(),
  loadedAt: z.number(),
})

/** Unknown keys are kept (other parts of the studio add their own settings to the same file). */
const settingsSchema = z.looseObject({
  theme: z.enum(['system', 'light', 'dark']).default('system'),
  recentModels: z.array(recentModelSchema).default([]),
  modelFolders: z.array(z.string().min(1)).default([]),
  welcomeDismissed: z.boolean().default(false),
})

type StoredSettings = z.output<typeof settingsSchema>

/** The settings when nothing was saved yet. */
export function defaultSettings(): StudioSettings {
  return { theme: 'system', recentModels: [], modelFolders: [], welcomeDismissed: false }
}

function visible(stored: StoredSettings): StudioSettings {
  return {
    theme: stored.theme,
    recentModels: stored.recentModels,
    modelFolders: stored.modelFolders,
    welcomeDismissed: stored.welcomeDismissed,
  }
}

/** The whole stored object (including keys other parts of the studio own), or the defaults. */
async function readStored(path: string): Promise<StoredSettings> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return settingsSchema.parse({})
    throw error
  }
  try {
    return settingsSchema.parse(JSON.parse(text))
  } catch {
    // A hand edit gone wrong must not stop the studio: keep the file for the user, start from the defaults.
    await rename(path, `${path}.damaged-${Date.now()}`)
    return settingsSchema.parse({})
  }
}

/** Read the settings (defaults for a missing file). */
export async function readSettings(path: string = workspaceSettingsPath()): Promise<StudioSettings> {
  return visible(await readStored(path))
}

/** Updates in progress by file: each waits for the one before, so two changes never overwrite each other. */
const pendingUpdates = new Map<string, Promise<unknown>>()

/** Apply `change` to the stored settings and write them atomically; returns the new settings. */
export function updateSettings(
  change: (current: StudioSettings) => Partial<StudioSettings>,
  path: string = workspaceSettingsPath(),
): Promise<StudioSettings> {
  const previous = pendingUpdates.get(path) ?? Promise.resolve()
  const update = previous
    .catch(() => undefined)
    .then(async () => {
      const stored = await readStored(path)
      const next = { ...stored, ...change(visible(stored)) }
      await writeFileAtomicCreatingFolder(path, `${JSON.stringify(next, null, 2)}\n`)
      return visible(next)
    })
  pendingUpdates.set(path, update)
  void update
    .finally(() => {
      if (pendingUpdates.get(path) === update) pendingUpdates.delete(path)
    })
    .catch(() => undefined)
  return update
}

/** The recent list with `model` first, without an older entry for the same folder, cut to the limit. */
export function withRecentModel(recent: readonly RecentModel[], model: RecentModel): RecentModel[] {
  const path = resolve(model.path)
  const others = recent.filter((entry) => resolve(entry.path) !== path)
  return [{ ...model, path }, ...others].slice(0, recentModelLimit)
}

/** The folder list with `folder` added once (absolute). */
export function withModelFolder(folders: readonly string[], folder: string): string[] {
  const absolute = resolve(folder)
  return folders.includes(absolute) ? [...folders] : [...folders, absolute]
}
