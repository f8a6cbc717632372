import { createPinia, setActivePinia } from 'pinia'
import { expect, test } from 'vitest'
import { setClient } from '../../src/renderer/src/api.ts'
import { useModelsStore } from '../../src/renderer/src/stores/models.ts'
import { createClient } from '../../src/shared/contract-client.ts'
import type { Outcome } from '../../src/shared/contract.ts'
import type { FolderListing } from '../../src/shared/studio.ts'
import { createFakeBridge } from './fake-bridge.ts'

function listing(path: string): FolderListing {
  return { path, parent: '/', entries: [], places: [], unreadable: [] }
}

test('a folder listing overtaken by a later one is dropped (the picker opens on home, the user goes elsewhere)', async () => {
  const fake = createFakeBridge()
  const pending: Array<() => void> = []
  // Each listing answers only when released, so the test chooses the order the answers arrive in.
  fake.answers['files:list'] = (args) =>
    new Promise<Outcome<FolderListing>>((resolve) => {
      const path = (args as { path?: string }).path ?? '/home'
      pending.push(() => resolve({ ok: true, result: listing(path) }))
    }) as never
  setClient(createClient(fake.bridge))
  setActivePinia(createPinia())
  const models = useModelsStore()
  const home = models.browse()
  const typed = models.browse('/data/sets')
  await new Promise((resolve) => setTimeout(resolve, 0))
  expect(pending).toHaveLength(2)
  pending[1]?.()
  await typed
  pending[0]?.()
  await home
  expect(models.listing?.path).toBe('/data/sets')
})
