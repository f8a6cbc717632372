import { BrowserWindow, shell } from 'electron'
import { appUrl } from './app-protocol.ts'
import { builtPaths } from './paths.ts'

/**
 * The main window: context isolation and the sandbox on, no Node in the page, the preload as the only bridge.
 * The page is served from `tiller://app/` (app-protocol.ts). Navigation away from it is blocked and new windows are
 * refused (links open in the system browser).
 */
export function createMainWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: 1280,
    height: 860,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Tiller',
    backgroundColor: '#f4f6f8',
    webPreferences: {
      preload: builtPaths.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  })
  window.once('ready-to-show', () => window.show())
  window.webContents.on('will-navigate', (event) => event.preventDefault())
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url)
    return { action: 'deny' }
  })
  const developmentUrl = process.env['ELECTRON_RENDERER_URL']
  if (developmentUrl !== undefined) void window.loadURL(developmentUrl)
  else void window.loadURL(appUrl('index.html'))
  return window
}
