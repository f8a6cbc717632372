import { rmSync } from 'node:fs'

/** Removes the run's workspace folder (vitest.config.ts sets TILLER_WORKSPACE for every test file). */
export default function setup(): () => void {
  const folder = process.env['TILLER_WORKSPACE']
  return () => {
    if (folder !== undefined && folder.includes('tiller-test-workspace-'))
      rmSync(folder, { recursive: true, force: true })
  }
}
