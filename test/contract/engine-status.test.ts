import { existsSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createEngine, createRealRuntime, type Engine } from '../../src/main/core/engine.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { renderPrompt } from '../../src/main/core/runtime/prompt.ts'
import { createClient, type TillerClient } from '../../src/shared/contract-client.ts'
import { bridgeOverPort, createPortPair, serveContract } from '../../src/shared/contract-port.ts'
import type { GeneratedToken } from '../../src/shared/generation.ts'
import type { JobDone } from '../../src/shared/jobs.ts'

/** The engine over the real runtime: real provider probe, a real model folder, real generation. */

const fixture = new URL('../../../shared/fixtures/ortgenai-tiny-llama-fp16', import.meta.url).pathname

function packageVersion(path: string): string {
  const url = new URL(`../../node_modules/${path}/package.json`, import.meta.url)
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version
}

let engine: Engine
let client: TillerClient

beforeAll(async () => {
  engine = createEngine({ runtime: await createRealRuntime() })
  const [serverPort, clientPort] = createPortPair()
  serveContract(engine, serverPort)
  client = createClient(bridgeOverPort(clientPort))
})

afterAll(async () => {
  await engine.dispose()
})

function done(id: string): Promise<JobDone> {
  return new Promise((resolve) => {
    const stop = client.on('job:done', (event) => {
      if (event.id !== id) return
      stop()
      resolve(event)
    })
  })
}

describe('engine status over the real runtime', () => {
  test('reports the installed library versions and a CPU provider that is active with a reason', async () => {
    const status = await client['engine:status']({})
    expect(status.onnxRuntimeVersion).toBe(packageVersion('onnxruntime-node'))
    expect(status.transformersVersion).toBe(packageVersion('@huggingface/transformers'))
    expect(status.tillerVersion).toBe(packageVersion('..'))
    // This machine has no GPU: auto must settle on the CPU and say why the others were skipped.
    expect(status.providers.active).toBe('cpu')
    const cpu = status.providers.probes.find((probe) => probe.name === 'cpu')
    expect(cpu?.available).toBe(true)
    for (const probe of status.providers.probes) expect(probe.reason.length).toBeGreaterThan(10)
    const cuda = status.providers.probes.find((probe) => probe.name === 'cuda')
    expect(cuda?.available ?? false).toBe(false)
  })

  test('loads a real model folder as a job and streams the same greedy tokens as the runtime alone', async () => {
    expect(existsSync(fixture), `missing fixture ${fixture}`).toBe(true)
    const loadStarted = await client['model:load']({ path: fixture })
    const loaded = await done(loadStarted.id)
    expect(loaded.outcome).toBe('succeeded')
    const status = await client['engine:status']({})
    expect(status.model?.path).toBe(fixture)
    expect(status.model?.graphFamily).toBe('builder')
    expect(status.model?.dtype).toBe('float16')

    const tokens: GeneratedToken[] = []
    client.on('generate:token', (token) => tokens.push(token))
    const options = { maxTokens: 8, temperature: 0 }
    const started = await client['generate:start']({ prompt: 'Once upon a time', options })
    const finished = await done(started.id)
    expect(finished.outcome).toBe('succeeded')
    if (finished.outcome !== 'succeeded' || finished.kind !== 'generate') return

    // Reference: the runtime called directly on its own copy of the model.
    const model = await loadModel(fixture, { provider: 'cpu' })
    try {
      const ids = renderPrompt(model.tokenizer, 'Once upon a time', {
        maxTokens: 8,
        contextLength: model.config.maxPositionEmbeddings,
      }).ids
      const [reference] = await generate(model, { rows: [ids], options: { maxTokens: 8, temperature: 0 } })
      expect(tokens.map((token) => token.token)).toEqual(reference?.generated)
      expect(finished.result.text).toBe(reference?.text)
      expect(finished.result.generatedTokens).toBe(reference?.generated.length)
      expect(tokens.map((token) => token.text).join('')).toBe(finished.result.text)
    } finally {
      await model.dispose()
    }
  })
})
