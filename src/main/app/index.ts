import { app, BrowserWindow, session } from 'electron'
import { registerDesktopDialogs } from './desktop-dialogs.ts'
import { startEngineProcess, type EngineProcess } from './engine-process.ts'
import { broadcastEvent, registerContractHandlers } from './ipc.ts'
import { decidePermission } from './permissions.ts'
import { declareAppScheme, serveAppProtocol } from './protocol.ts'
import { createMainWindow } from './window.ts'

/**
 * The desktop app's main process: Electron glue only. It starts the engine in a utility process, registers the
 * contract's IPC handlers, and opens the window. No model code runs here.
 */

let engine: EngineProcess | null = null

app.enableSandbox()
// Before ready: the renderer's scheme must be privileged (standard, secure) when the first page loads.
declareAppScheme()
if (!app.requestSingleInstanceLock()) app.quit()

app.on('second-instance', () => {
  const [window] = BrowserWindow.getAllWindows()
  if (window === undefined) return
  if (window.isMinimized()) window.restore()
  window.focus()
})

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})

app.on('before-quit', () => engine?.stop())

void app.whenReady().then(() => {
  // The page needs no camera, microphone, notifications or other permissions; only clipboard writes (permissions.ts).
  session.defaultSession.setPermissionRequestHandler((_contents, permission, callback, details) =>
    callback(decidePermission(permission, details.requestingUrl)),
  )
  session.defaultSession.setPermissionCheckHandler((_contents, permission, requestingOrigin) =>
    decidePermission(permission, requestingOrigin),
  )
  serveAppProtocol()
  registerDesktopDialogs()
  engine = startEngineProcess(broadcastEvent)
  const relay = engine
  registerContractHandlers((name, args) => relay.request(name, args))
  createMainWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createMainWindow()
  })
})
