import { describe, expect, it } from 'vitest'
import { defaultModelFolder } from '../../src/main/core/models/default-model.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { runTiller } from '../helpers/cli.ts'

/** `tiller doctor --bench`: a short greedy decode on every available provider of this machine (CPU here). */

interface BenchEntry {
  provider: string
  ranOn: string
  tokensPerSecond: number
  prefillMs: number
  tokens: number[]
}

describe('tiller doctor --bench', () => {
  it('decodes on every available provider the tokens a plain greedy generate gives', async () => {
    const run = await runTiller(['doctor', '--bench', '--json', '--tokens', '3'])
    expect(run.code, run.stderr).toBe(0)
    const report = JSON.parse(run.stdout) as {
      providers: { probes: { name: string; available: boolean }[] }
      bench: BenchEntry[]
    }
    const available = report.providers.probes.filter((probe) => probe.available).map((probe) => probe.name)
    expect(available).toContain('cpu')
    expect(report.bench.map((entry) => entry.provider)).toEqual(available)
    const model = await loadModel(defaultModelFolder(), { provider: 'cpu' })
    try {
      const [expected] = await generate(model, {
        rows: [model.tokenizer.encode('Once upon a time')],
        options: { maxTokens: 3, temperature: 0, eosTokenIds: [] },
      })
      const cpu = report.bench.find((entry) => entry.provider === 'cpu')
      expect(cpu?.ranOn).toBe('cpu')
      expect(cpu?.tokens).toEqual(expected?.generated)
      expect(cpu?.tokensPerSecond).toBeGreaterThan(0)
    } finally {
      await model.dispose()
    }
  })

  it('prints one line per provider in text form', async () => {
    const run = await runTiller(['doctor', '--bench', '--tokens', '2'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(
      /Decode benchmark \("Once upon a time", 2 greedy tokens, median of 3 runs\):\n {2}cpu +[\d.]+ tokens\/s/,
    )
  })

  it('refuses a token count that is not a positive whole number', async () => {
    const run = await runTiller(['doctor', '--bench', '--tokens', '0'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('--tokens')
  })
})
