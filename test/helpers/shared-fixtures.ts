import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** `../shared/` beside the project's root, where the reference fixtures live (CI lays it out the same way). */
export const sharedFolder = fileURLToPath(new URL('../../../shared/', import.meta.url))

/** A path under `../shared/fixtures/`. */
export function sharedFixture(path: string): string {
  return join(sharedFolder, 'fixtures', path)
}
