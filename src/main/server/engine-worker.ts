import { workerData } from 'node:worker_threads'
import type { ExecutionProviderChoice } from '../../shared/engine-status.ts'
import { createEngine, createRealRuntime } from '../core/engine.ts'
import { serveEngineInWorker } from './worker-channel.ts'

/** Browser mode's engine thread: the real engine, served to the server thread, loading the chosen model. */
const settings = workerData as { entry: string; model?: string; provider?: ExecutionProviderChoice }
const engine = createEngine({ runtime: await createRealRuntime(), provider: settings.provider ?? 'auto' })
serveEngineInWorker(engine)
if (settings.model !== undefined) void engine['model:load']({ path: settings.model })
else engine.loadDefaultModel()
