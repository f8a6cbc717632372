import { onScopeDispose } from 'vue'
import type { EventName } from '../../../shared/contract-names.ts'
import type { EventPayload } from '../../../shared/contract.ts'
import { useClient } from '../api.ts'

/** Listen to a contract event for the lifetime of the calling component or store (unsubscribes on dispose). */
export function useContractEvent<K extends EventName>(
  name: K,
  listener: (payload: EventPayload<K>) => void,
): void {
  const unsubscribe = useClient().on(name, listener)
  onScopeDispose(unsubscribe)
}
