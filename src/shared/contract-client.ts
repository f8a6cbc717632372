import { requestNames, type EventName, type RequestName } from './contract-names.ts'
import type { EventPayload, RequestArgs, RequestResult, TillerBridge, Unsubscribe } from './contract.ts'
import type { ErrorInfo } from './jobs.ts'

/** A failed request, as the client throws it: the engine's code, message and subject. */
export class ContractError extends Error {
  readonly code: string
  readonly subject: string | undefined

  constructor(info: ErrorInfo) {
    super(info.message)
    this.name = 'ContractError'
    this.code = info.code
    this.subject = info.subject
  }
}

/** The ergonomic client: requests resolve to their result or throw a ContractError. */
export type TillerClient = { [K in RequestName]: (args: RequestArgs<K>) => Promise<RequestResult<K>> } & {
  on<K extends EventName>(name: K, listener: (payload: EventPayload<K>) => void): Unsubscribe
}

/** Wrap a bridge (Electron's `window.tiller`, a WebSocket, an in-memory pair) into a throwing client. */
export function createClient(bridge: TillerBridge): TillerClient {
  const client: Record<string, unknown> = {}
  for (const name of requestNames) {
    const send = bridge[name] as (args: unknown) => ReturnType<TillerBridge[RequestName]>
    client[name] = async (args: unknown) => {
      const outcome = await send(args)
      if (!outcome.ok) throw new ContractError(outcome.error)
      return outcome.result
    }
  }
  client['on'] = bridge.on.bind(bridge)
  // NOTE: keys come from the contract's name list; the cast states that shape.
  return client as TillerClient
}
