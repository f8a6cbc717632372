/**
 * What the desktop app's preload adds beside the contract: the operating system's file dialogs, which only the
 * main process can open. Browser mode has none of this and uses the engine's folder listing instead.
 */
export interface TillerDesktop {
  /** Let the user choose a folder; resolves with its path, or null when cancelled. */
  chooseFolder(title: string): Promise<string | null>
  /** Let the user choose a file with one of `extensions` (without dots); null when cancelled. */
  chooseFile(title: string, extensions: string[]): Promise<string | null>
}

/** The IPC channels behind `TillerDesktop`. */
export const desktopChannels = {
  chooseFolder: 'tiller-desktop/choose-folder',
  chooseFile: 'tiller-desktop/choose-file',
} as const
