import { spawn } from 'node:child_process'
import type { ExecutionProviderChoice } from '../../shared/engine-status.ts'
import { startBrowserServer } from './browser-server.ts'
import { superviseEngine, type ChildEngine } from './engine-supervisor.ts'

/**
 * Browser mode's entry (`npm start` without Electron's binary): the engine in a watched child process (restarted
 * when it stops responding, engine-supervisor.ts), the built renderer and the contract on 127.0.0.1, and the URL
 * with its token printed for the user to open.
 */

/** How `runBrowserMode` starts. */
export interface BrowserModeOptions {
  /** Folder of the built renderer (`out/renderer`). */
  rendererDirectory: string
  /** 0 picks a free port. */
  port: number
  /** Open the URL in the system browser. */
  open: boolean
  /** A model folder to load instead of the embedded default model. */
  model?: string
  provider?: ExecutionProviderChoice
}

function openInBrowser(url: string): void {
  const command =
    process.platform === 'darwin'
      ? ['open', url]
      : process.platform === 'win32'
        ? ['cmd', '/c', 'start', '""', url]
        : ['xdg-open', url]
  const [program, ...args] = command
  if (program === undefined) return
  // Opening a browser is a convenience: without one (a server, CI) the printed URL is enough.
  const child = spawn(program, args, { stdio: 'ignore', detached: true })
  child.on('error', () => undefined)
  child.unref()
}

/** A running browser mode: the page's URL, the supervised engine, and how to stop both. */
export interface BrowserMode {
  url: string
  engine: ChildEngine
  close(): Promise<void>
}

/** Start the supervised engine and the server (no printing, no signal handlers: tests and `runBrowserMode`). */
export async function startBrowserMode(options: Omit<BrowserModeOptions, 'open'>): Promise<BrowserMode> {
  const engine = superviseEngine({
    entry: new URL('./engine-child.ts', import.meta.url),
    settings: { model: options.model, provider: options.provider ?? 'auto' },
  })
  const server = await startBrowserServer({
    engine,
    rendererDirectory: options.rendererDirectory,
    port: options.port,
  })
  return {
    url: server.url,
    engine,
    close: async () => {
      await Promise.all([server.close(), engine.dispose()])
    },
  }
}

/** Start browser mode and keep serving until SIGINT/SIGTERM. Resolves with the URL once it listens. */
export async function runBrowserMode(options: BrowserModeOptions): Promise<string> {
  const mode = await startBrowserMode(options)
  const { url } = mode
  process.stdout.write(`Tiller is running in browser mode at ${url}\nPress Ctrl+C to stop.\n`)
  if (options.open) openInBrowser(url)

  const stop = (): void => {
    void mode.close().finally(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return url
}
