import { BrowserWindow, dialog, ipcMain } from 'electron'
import { desktopChannels } from '../../shared/desktop.ts'
import { isTrustedSender } from './trusted-sender.ts'

/**
 * The system's open dialogs for the page (`window.tillerDesktop`): a folder, or a file with given extensions.
 * Only Tiller's own page may open them; the answer is a path or null (cancelled), never file contents.
 */
export function registerDesktopDialogs(): void {
  ipcMain.handle(desktopChannels.chooseFolder, async (event, title: unknown) => {
    if (!isTrustedSender(event.senderFrame)) return null
    const window = BrowserWindow.fromWebContents(event.sender)
    const options = { title: String(title), properties: ['openDirectory' as const] }
    const result =
      window === null ? await dialog.showOpenDialog(options) : await dialog.showOpenDialog(window, options)
    return result.canceled ? null : (result.filePaths[0] ?? null)
  })
  ipcMain.handle(desktopChannels.chooseFile, async (event, title: unknown, extensions: unknown) => {
    if (!isTrustedSender(event.senderFrame)) return null
    const window = BrowserWindow.fromWebContents(event.sender)
    const names = Array.isArray(extensions) ? extensions.map(String).filter((name) => /^\w+$/.test(name)) : []
    const options = {
      title: String(title),
      properties: ['openFile' as const],
      filters: names.length > 0 ? [{ name: names.join(', '), extensions: names }] : [],
    }
    const result =
      window === null ? await dialog.showOpenDialog(options) : await dialog.showOpenDialog(window, options)
    return result.canceled ? null : (result.filePaths[0] ?? null)
  })
}
