/**
 * A browser-mode server process for engine-orphan.test.ts, reduced to its engine: it supervises the native-busy
 * engine child (the marker file is argv[2]) and starts its endless native work, then waits to be killed.
 */
import { superviseEngine } from '../../../src/main/server/engine-supervisor.ts'

const markerFile = process.argv[2]
if (markerFile === undefined) throw new Error('Give the marker file as the first argument.')
const engine = superviseEngine({
  entry: new URL('./native-busy-engine-child.ts', import.meta.url),
  settings: { markerFile },
})
await new Promise<void>((resolve) => {
  engine.subscribe((event) => {
    if (event.name === 'job:done') resolve()
  })
  void engine['model:load']({ path: '/models/fake' })
})
await engine['generate:start']({ prompt: 'native', options: { maxTokens: 2 } })
