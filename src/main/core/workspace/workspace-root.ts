/**
 * The studio's workspace (DESIGN.md §6): one folder of plain files the user can read and version.
 *
 *   datasets/*.jsonl        demonstration sets and multiple-choice items
 *   edits/*.safetensors     fitted and imported edits (with their manifests)
 *   chats/*.json            conversations
 *   runs/*.json             fit and evaluation reports
 *   settings.json           the studio's settings (recent models, theme, last choices)
 *
 * The folder is `TILLER_WORKSPACE` when set (tests and portable installs), else the platform's per-user data
 * folder: `%APPDATA%\Tiller` on Windows, `~/Library/Application Support/Tiller` on macOS,
 * `$XDG_DATA_HOME/tiller` or `~/.local/share/tiller` elsewhere. Caches live apart (`cache-folders.ts`), so deleting
 * them never touches saved work.
 */
import { mkdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** The environment variable that places the workspace. */
export const workspaceVariable = 'TILLER_WORKSPACE'

/** The workspace's subfolders, by what they hold. */
export const workspaceFolders = {
  datasets: 'datasets',
  edits: 'edits',
  chats: 'chats',
  runs: 'runs',
} as const

export type WorkspaceFolder = keyof typeof workspaceFolders

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}

/** The platform's per-user data folder for Tiller, before any override. */
function platformDataFolder(environment: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  if (platform === 'win32') {
    const appData = nonEmpty(environment['APPDATA']) ?? join(homedir(), 'AppData', 'Roaming')
    return join(appData, 'Tiller')
  }
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'Tiller')
  const dataHome = nonEmpty(environment['XDG_DATA_HOME']) ?? join(homedir(), '.local', 'share')
  return join(dataHome, 'tiller')
}

/** The workspace folder (absolute), whether or not it exists yet. */
export function workspaceRoot(
  environment: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  const configured = nonEmpty(environment[workspaceVariable])
  return resolve(configured ?? platformDataFolder(environment, platform))
}

/** The path of one workspace subfolder. */
export function workspaceFolder(folder: WorkspaceFolder, root: string = workspaceRoot()): string {
  return join(root, workspaceFolders[folder])
}

/** The path of the studio's settings file. */
export function workspaceSettingsPath(root: string = workspaceRoot()): string {
  return join(root, 'settings.json')
}

/** Create the workspace and its subfolders when missing; returns the root. */
export async function ensureWorkspace(root: string = workspaceRoot()): Promise<string> {
  for (const folder of Object.values(workspaceFolders)) await mkdir(join(root, folder), { recursive: true })
  return root
}
