import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { spawnTiller } from '../helpers/cli.ts'
import { copiedFolder, genaiFixture, requireFixture } from './fixtures.ts'

let model: LoadedModel

beforeAll(async () => {
  model = await loadModel(requireFixture(genaiFixture), { provider: 'cpu' })
})

afterAll(async () => {
  await model.dispose()
})

describe('tiller generate', () => {
  const base = ['generate', '--model', genaiFixture, '--prompt', 'Once upon a time', '--max-tokens', '8']

  it('prints one JSON object equal to the library run', async () => {
    const run = spawnTiller(...base, '--temperature', '0', '--json')
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    const output = JSON.parse(run.stdout) as Record<string, unknown>
    const prompt = model.tokenizer.encode('Once upon a time')
    const [expected] = await generate(model, { rows: [prompt], options: { maxTokens: 8 } })
    expect(output).toMatchObject({
      text: expected?.text,
      tokens: expected?.tokens,
      generatedTokens: expected?.generated,
      finishReason: 'length',
      provider: 'cpu',
    })
    expect(output['tokensPerSecond']).toBeGreaterThan(0)
  })

  it('streams the same text without --json and honours the seed', async () => {
    const streamed = spawnTiller(...base, '--seed', '11', '--top-k', '40', '--stop', 'zzzz')
    expect(streamed.status).toBe(0)
    const json = JSON.parse(spawnTiller(...base, '--seed', '11', '--top-k', '40', '--json').stdout) as {
      text: string
    }
    expect(streamed.stdout).toBe(json.text + '\n')
    expect(streamed.stderr).toContain('finished: length')
  })

  it('fails with a message naming the problem for bad input', () => {
    const broken = copiedFolder(genaiFixture, ['tokenizer.json'])
    try {
      const noTokenizer = spawnTiller('generate', '--model', broken.folder, '--prompt', 'Hi')
      expect(noTokenizer.status).not.toBe(0)
      expect(noTokenizer.stderr).toContain(join(broken.folder, 'tokenizer.json'))
    } finally {
      broken.cleanup()
    }
    const empty = spawnTiller('generate', '--model', genaiFixture, '--prompt', '')
    expect(empty.status).not.toBe(0)
    expect(empty.stderr).toContain('prompt is empty')
    const long = spawnTiller('generate', '--model', genaiFixture, '--prompt', 'Hi', '--max-tokens', '5000')
    expect(long.status).not.toBe(0)
    expect(long.stderr).toContain('max_position_embeddings')
    const flag = spawnTiller('generate', '--model', genaiFixture, '--prompt', 'Hi', '--temperature', 'warm')
    expect(flag.status).not.toBe(0)
    expect(flag.stderr).toContain('--temperature')
  })
})

describe('tiller doctor', () => {
  it('reports the active provider and a reason for every provider', () => {
    const run = spawnTiller('doctor', '--json')
    expect(run.status).toBe(0)
    const report = JSON.parse(run.stdout) as { providers: { active: string; probes: { reason: string }[] } }
    expect(['cuda', 'dml', 'cpu']).toContain(report.providers.active)
    expect(report.providers.probes).toHaveLength(3)
    const text = spawnTiller('doctor')
    expect(text.status).toBe(0)
    expect(text.stdout).toContain(`active: ${report.providers.active}`)
    for (const probe of report.providers.probes) expect(text.stdout).toContain(probe.reason)
  })
})
