import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { vi } from 'vitest'
import App from '../../src/renderer/src/App.vue'
import { setClient } from '../../src/renderer/src/api.ts'
import type { ScreenId } from '../../src/renderer/src/screens/index.ts'
import { createClient } from '../../src/shared/contract-client.ts'
import type { FakeBridge } from './fake-bridge.ts'

/** Wait until lazily loaded screens have arrived and every pending request has answered. */
export async function settle(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await flushPromises()
    await vi.dynamicImportSettled()
  }
  await flushPromises()
}

/** Mount the whole studio on `fake`, showing `screen` (the address's hash decides it, as on a reload). */
export async function mountStudio(fake: FakeBridge, screen: ScreenId = 'models'): Promise<VueWrapper> {
  window.history.replaceState(null, '', `#/${screen}`)
  setClient(createClient(fake.bridge))
  const wrapper = mount(App, { global: { plugins: [createPinia()] }, attachTo: document.body })
  await settle()
  return wrapper
}
