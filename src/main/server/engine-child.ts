import type { ExecutionProviderChoice } from '../../shared/engine-status.ts'
import { createEngine, createRealRuntime } from '../core/engine.ts'
import { engineChildSettings, serveEngineInChild } from './child-channel.ts'

/** Browser mode's engine process: the real engine, served to the server process, loading the chosen model. */
const settings = engineChildSettings() as { model?: string; provider?: ExecutionProviderChoice }
const engine = createEngine({ runtime: await createRealRuntime(), provider: settings.provider ?? 'auto' })
serveEngineInChild(engine)
if (settings.model !== undefined) void engine['model:load']({ path: settings.model })
else engine.loadDefaultModel()
