/**
 * An engine child process for engine-supervisor.test.ts: the fake runtime, except that generating a prompt
 * containing "hang" blocks the process forever, as a runaway template or model run would, and one containing
 * "crash" ends it.
 */
import { createEngine } from '../../../src/main/core/engine.ts'
import { serveEngineInChild } from '../../../src/main/server/child-channel.ts'
import { createFakeRuntime } from '../../contract/fake-runtime.ts'

const { runtime } = createFakeRuntime()
const generate = runtime.generate.bind(runtime)
runtime.generate = async (model, request) => {
  await new Promise((resolve) => setTimeout(resolve, 5))
  if (request.prompt.includes('hang')) for (;;);
  // Ends the engine process, as a native fault in ONNX Runtime would.
  if (request.prompt.includes('crash')) process.exit(3)
  return generate(model, request)
}
serveEngineInChild(createEngine({ runtime }))
