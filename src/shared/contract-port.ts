import { eventNames, isRequestName, requestNames } from './contract-names.ts'
import type { ContractEvent, ContractService, Outcome, TillerBridge, Unsubscribe } from './contract.ts'
import type { ErrorInfo } from './jobs.ts'

/**
 * The contract over any message port: one server side (`serveContract`) and one client side
 * (`bridgeOverPort`), shared by the WebSocket of browser mode, the MessagePort between Electron's main
 * process and the engine's utility process, and the in-memory pair of the tests.
 */

/** Everything that crosses a port. Request ids are per connection. */
export type WireMessage =
  | { kind: 'request'; id: number; name: string; args: unknown }
  | { kind: 'response'; id: number; outcome: Outcome<unknown> }
  | { kind: 'event'; name: string; payload: unknown }

/** A bidirectional message carrier. Incoming messages are `unknown`: the far side may be untrusted. */
export interface MessagePortLike {
  send(message: WireMessage): void
  onMessage(listener: (message: unknown) => void): Unsubscribe
  onClose(listener: () => void): Unsubscribe
  close(): void
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

/** A zod error's first issue, as `field: message`, without depending on zod here. */
function describeSchemaIssue(error: Record<string, unknown>): ErrorInfo | null {
  const issues = error['issues']
  if (!Array.isArray(issues) || issues.length === 0) return null
  const first: unknown = issues[0]
  if (!isRecord(first) || typeof first['message'] !== 'string') return null
  const path = Array.isArray(first['path']) ? first['path'].map(String).join('.') : ''
  const subject = path === '' ? 'arguments' : path
  return { code: 'invalid-argument', message: `Invalid ${subject}: ${first['message']}.`, subject }
}

/**
 * Any thrown value as ErrorInfo: errors carrying a string `code` (TillerError) keep it, schema errors become
 * `invalid-argument` naming the field, anything else is `internal` with its message.
 */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (isRecord(error)) {
    const schemaIssue = describeSchemaIssue(error)
    if (schemaIssue !== null) return schemaIssue
    const message = typeof error['message'] === 'string' ? error['message'] : String(error)
    const code = typeof error['code'] === 'string' ? error['code'] : 'internal'
    const subject = typeof error['subject'] === 'string' ? error['subject'] : undefined
    return subject === undefined ? { code, message } : { code, message, subject }
  }
  return { code: 'internal', message: String(error) }
}

/**
 * Serve `service` on `port`: answer requests (only contract names; anything else gets an error) and forward
 * every engine event. Returns a function that detaches; closing the port detaches too.
 */
export function serveContract(service: ContractService, port: MessagePortLike): Unsubscribe {
  const forward = (event: ContractEvent): void => port.send({ kind: 'event', ...event })
  const unsubscribeEvents = service.subscribe(forward)

  const answer = async (id: number, name: unknown, args: unknown): Promise<void> => {
    let outcome: Outcome<unknown>
    if (!isRequestName(name)) {
      outcome = {
        ok: false,
        error: { code: 'invalid-argument', message: `Unknown request "${String(name)}".` },
      }
    } else {
      try {
        // NOTE: the name was checked against the table; each method parses its own argument with its schema.
        const handler = service[name] as (value: unknown) => Promise<unknown>
        outcome = { ok: true, result: await handler.call(service, args) }
      } catch (error) {
        outcome = { ok: false, error: toErrorInfo(error) }
      }
    }
    port.send({ kind: 'response', id, outcome })
  }

  const unsubscribeMessages = port.onMessage((message) => {
    if (!isRecord(message) || message['kind'] !== 'request' || typeof message['id'] !== 'number') return
    void answer(message['id'], message['name'], message['args'])
  })
  const detach = (): void => {
    unsubscribeEvents()
    unsubscribeMessages()
    unsubscribeClose()
  }
  const unsubscribeClose = port.onClose(detach)
  return detach
}

/** The client side: a TillerBridge whose requests travel over `port`. Pending requests fail when it closes. */
export function bridgeOverPort(port: MessagePortLike): TillerBridge {
  let nextId = 1
  const pending = new Map<number, (outcome: Outcome<unknown>) => void>()
  const listeners = new Map<string, Set<(payload: unknown) => void>>()

  port.onMessage((message) => {
    if (!isRecord(message)) return
    if (message['kind'] === 'response' && typeof message['id'] === 'number') {
      const resolve = pending.get(message['id'])
      pending.delete(message['id'])
      resolve?.(message['outcome'] as Outcome<unknown>)
    } else if (message['kind'] === 'event' && typeof message['name'] === 'string') {
      for (const listener of listeners.get(message['name']) ?? []) listener(message['payload'])
    }
  })
  port.onClose(() => {
    const closed: Outcome<unknown> = {
      ok: false,
      error: { code: 'disconnected', message: 'The connection to the engine closed. Restart Tiller.' },
    }
    for (const resolve of pending.values()) resolve(closed)
    pending.clear()
  })

  const bridge: Record<string, unknown> = {}
  for (const name of requestNames) {
    bridge[name] = (args: unknown) =>
      new Promise<Outcome<unknown>>((resolve) => {
        const id = nextId++
        pending.set(id, resolve)
        port.send({ kind: 'request', id, name, args })
      })
  }
  bridge['on'] = (name: string, listener: (payload: unknown) => void): Unsubscribe => {
    if (!(eventNames as readonly string[]).includes(name)) throw new Error(`Unknown event "${name}".`)
    const set = listeners.get(name) ?? new Set()
    listeners.set(name, set)
    set.add(listener)
    return () => set.delete(listener)
  }
  // NOTE: built from the name lists, so its keys are exactly the contract's; the cast states that shape.
  return bridge as TillerBridge
}

/**
 * Two connected in-memory ports. Messages are structured-cloned and delivered on a later microtask, as a real
 * carrier would, so a payload that cannot cross a process boundary fails here too.
 */
export function createPortPair(): [MessagePortLike, MessagePortLike] {
  type Side = { messageListeners: Set<(message: unknown) => void>; closeListeners: Set<() => void> }
  const sides: [Side, Side] = [
    { messageListeners: new Set(), closeListeners: new Set() },
    { messageListeners: new Set(), closeListeners: new Set() },
  ]
  let open = true
  const makePort = (own: Side, other: Side): MessagePortLike => ({
    send(message) {
      if (!open) return
      const copy: unknown = structuredClone(message)
      queueMicrotask(() => {
        for (const listener of other.messageListeners) listener(copy)
      })
    },
    onMessage(listener) {
      own.messageListeners.add(listener)
      return () => own.messageListeners.delete(listener)
    },
    onClose(listener) {
      own.closeListeners.add(listener)
      return () => own.closeListeners.delete(listener)
    },
    close() {
      if (!open) return
      open = false
      for (const side of sides) for (const listener of [...side.closeListeners]) listener()
    },
  })
  return [makePort(sides[0], sides[1]), makePort(sides[1], sides[0])]
}
