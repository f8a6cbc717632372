import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { bindingFolder, probeProviders } from '../../src/main/core/runtime/providers.ts'
import { sessionOptions } from '../../src/main/core/runtime/session.ts'
import { genaiFixture, requireFixture } from './fixtures.ts'

const cudaLibrary = join(bindingFolder(), 'libonnxruntime_providers_cuda.so')

describe('probeProviders', () => {
  it('probes every provider with a one-sentence reason and always has CPU', async () => {
    const report = await probeProviders('auto')
    expect(report.probes.map((probe) => probe.name)).toEqual(['cuda', 'dml', 'cpu'])
    for (const probe of report.probes) expect(probe.reason).toMatch(/^[A-Z].*\.$/)
    expect(report.probes.find((probe) => probe.name === 'cpu')?.available).toBe(true)
    const firstAvailable = report.probes.find((probe) => probe.available)?.name
    expect(report.active).toBe(firstAvailable)
  })

  it('explains why CUDA and DirectML are skipped on this platform', async () => {
    const report = await probeProviders('auto')
    const cuda = report.probes.find((probe) => probe.name === 'cuda')
    const directMl = report.probes.find((probe) => probe.name === 'dml')
    if (process.platform === 'linux' && process.arch === 'x64' && !existsSync(cudaLibrary)) {
      expect(cuda?.available).toBe(false)
      expect(cuda?.reason).toContain('libonnxruntime_providers_cuda.so')
      expect(cuda?.reason).toContain('npm run setup:cuda')
    }
    if (process.platform !== 'win32') {
      expect(directMl?.available).toBe(false)
      expect(directMl?.reason).toContain('Windows')
    }
  })

  it('falls back to CPU when an unavailable provider is requested, and says so', async () => {
    const report = await probeProviders('dml')
    if (process.platform === 'win32') return expect(['dml', 'cpu']).toContain(report.active)
    expect(report.active).toBe('cpu')
    expect(report.probes.find((probe) => probe.name === 'cpu')?.reason).toContain('dml was requested')
  })

  it('keeps the CPU provider behind an accelerator for unsupported nodes', () => {
    expect(sessionOptions('cuda').executionProviders).toEqual(['cuda', 'cpu'])
    expect(sessionOptions('cpu').executionProviders).toEqual(['cpu'])
    expect(sessionOptions('cpu').graphOptimizationLevel).toBe('all')
  })

  it('prepacks weights unless a session runs only large batches (capture)', () => {
    const settings = (options: ReturnType<typeof sessionOptions>): Record<string, unknown> =>
      (options.extra as { session: Record<string, unknown> }).session
    expect(settings(sessionOptions('cpu'))).not.toHaveProperty('disable_prepacking')
    expect(settings(sessionOptions('cpu', { prepackWeights: false }))).toMatchObject({
      disable_prepacking: '1',
      intra_op: { allow_spinning: '0' },
    })
  })
})

describe('loading on a provider that is not there', () => {
  it('runs on CPU and says why', async () => {
    if (process.platform === 'win32' || existsSync(cudaLibrary)) return
    const model = await loadModel(requireFixture(genaiFixture), { provider: 'cuda' })
    try {
      expect(model.provider).toBe('cpu')
      expect(model.providerFallbackReason).toContain('npm run setup:cuda')
    } finally {
      await model.dispose()
    }
  })
})
