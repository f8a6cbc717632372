import { protocol } from 'electron'
import { readFile } from 'node:fs/promises'
import { appScheme, resolveAppRequest } from './app-protocol.ts'
import { builtPaths } from './paths.ts'

/**
 * Registers `tiller://` with Electron. The scheme must be declared privileged before the app is ready (standard
 * for relative URLs and an origin, secure like https, allowed to run the module scripts Vite emits); the handler
 * is installed once it is.
 */
export function declareAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: appScheme,
      privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true },
    },
  ])
}

/** Serve the built renderer on `tiller://app/` (call after `app.whenReady()`). */
export function serveAppProtocol(): void {
  protocol.handle(appScheme, async (request) => {
    const answer = resolveAppRequest(builtPaths.rendererDirectory, request.url)
    if (answer.kind === 'refused') {
      return new Response(answer.reason, { status: answer.status, headers: answer.headers })
    }
    try {
      return new Response(await readFile(answer.path), { status: 200, headers: answer.headers })
    } catch {
      return new Response('Not found.', {
        status: 404,
        headers: { ...answer.headers, 'Content-Type': 'text/plain' },
      })
    }
  })
}
