/**
 * The names of every request and event in the contract, and nothing else.
 *
 * Kept apart from `contract.ts` so the Electron preload can build `window.tiller` from these lists without
 * bundling the schemas: the lists are the allowlist of what the renderer may call and hear.
 * `contract.ts` checks at compile time that its table has exactly these keys.
 */

/** Requests, `domain:verb`: each takes one argument object and answers once. */
export const requestNames = [
  'engine:status',
  'model:info',
  'model:load',
  'generate:start',
  'job:cancel',
  'job:list',
  'datasets:list',
  'datasets:preview',
  'methods:list',
  'edit:fit',
  'edits:list',
  'edit:load',
  'edit:save',
  'edit:export-gguf',
  'chat:compare',
  'chat:list',
  'chat:load',
  'chat:save',
  'chat:delete',
  'chat:send',
  'diagnostics:layers',
  'evaluation:run',
  'evaluation:runs',
  'edit:set-strength',
  // The studio's shell and Models screen.
  'settings:read',
  'settings:update',
  'models:discover',
  'models:add-folder',
  'models:remove-folder',
  'model:details',
  'model:import-gguf',
  'files:list',
  'demonstrations:list',
  'demonstrations:open',
  'demonstrations:validate',
  'demonstrations:save',
  'demonstrations:delete',
  'demonstrations:import',
  'demonstrations:export',
  'demonstrations:render',
  'library:list',
  'library:update',
  'library:delete',
  'library:compose',
  'library:import',
  'library:export-onnx',
] as const

/** Events the engine pushes to every connected client. */
export const eventNames = [
  'job:progress',
  'job:done',
  'generate:token',
  'model:changed',
  'compare:token',
  'chat:token',
  // The studio's shell: the engine behind the contract stopped, is restarting, or is back.
  'engine:health',
] as const

export type RequestName = (typeof requestNames)[number]
export type EventName = (typeof eventNames)[number]

/** True when `name` is one of the contract's request names (used to reject anything else at a boundary). */
export function isRequestName(name: unknown): name is RequestName {
  return typeof name === 'string' && (requestNames as readonly string[]).includes(name)
}

/** True when `name` is one of the contract's event names. */
export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && (eventNames as readonly string[]).includes(name)
}

/** Electron IPC channel of a request or event: the contract name under Tiller's prefix. */
export function ipcChannel(name: RequestName | EventName): string {
  return `tiller/${name}`
}
