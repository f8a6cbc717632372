import type { EventName, RequestName } from '../../src/shared/contract-names.ts'
import { requestNames } from '../../src/shared/contract-names.ts'
import type { EngineStatusReport, EventPayload, Outcome, TillerBridge } from '../../src/shared/contract.ts'
import type { LoadedModelInfo } from '../../src/shared/engine-status.ts'
import type { ModelDiscovery, StudioSettings } from '../../src/shared/studio.ts'

/**
 * A stand-in for `window.tiller` built from the same contract table: requests answer from `answers` (or fail),
 * every call is recorded, and `emit` pushes an event as the engine would.
 */

/** A status with no model loaded and two providers. */
export function sampleStatus(): EngineStatusReport {
  return {
    tillerVersion: '9.8.7',
    onnxRuntimeVersion: '1.30.0',
    transformersVersion: '4.3.1',
    platform: 'linux-x64',
    providers: {
      active: 'cpu',
      probes: [
        {
          name: 'cuda',
          available: false,
          reason: 'CUDA libraries are not installed; run npm run setup:cuda.',
        },
        { name: 'cpu', available: true, reason: 'The CPU provider is always available.' },
      ],
    },
    model: null,
    modelLoading: null,
    modelProblem: 'The default model folder resources/models/organism is missing.',
  }
}

/** A loaded model's info. */
export function sampleModel(): LoadedModelInfo {
  return {
    path: '/models/organism',
    name: 'organism',
    architecture: 'LlamaForCausalLM',
    graphFamily: 'optimum',
    layers: 6,
    hiddenSize: 288,
    vocabSize: 512,
    dtype: 'float32',
  }
}

/** Settings as a first run has them (the welcome not yet closed). */
export function sampleSettings(): StudioSettings {
  return { theme: 'system', recentModels: [], modelFolders: [], welcomeDismissed: false }
}

/** What the Models screen finds: the organism only. */
export function sampleDiscovery(): ModelDiscovery {
  return {
    organism: {
      path: '/models/organism',
      name: 'organism',
      source: 'organism',
      architecture: 'LlamaForCausalLM',
      layers: 6,
      hiddenSize: 288,
      sizeBytes: 17_800_000,
      onnxFiles: ['onnx/model.onnx'],
    },
    organismProblem: null,
    recent: [],
    folders: [],
    huggingFace: { cacheFolder: '/home/user/.cache/huggingface/hub', exists: false, models: [] },
  }
}

type Answer = (args: unknown) => Outcome<unknown>

/** The fake and its controls. */
export interface FakeBridge {
  bridge: TillerBridge
  calls: { name: RequestName; args: unknown }[]
  answers: Partial<Record<RequestName, Answer>>
  emit<K extends EventName>(name: K, payload: EventPayload<K>): void
}

/**
 * Build a fake bridge; `engine:status` answers `status` unless overridden, and the requests every studio start
 * makes (settings, discovery, the model's footprint) answer with first-run values.
 */
export function createFakeBridge(status: EngineStatusReport = sampleStatus()): FakeBridge {
  const listeners = new Map<string, Set<(payload: unknown) => void>>()
  const calls: FakeBridge['calls'] = []
  const answers: FakeBridge['answers'] = {
    'engine:status': () => ({ ok: true, result: status }),
    'settings:read': () => ({ ok: true, result: sampleSettings() }),
    'models:discover': () => ({ ok: true, result: sampleDiscovery() }),
    'model:details': () => ({
      ok: true,
      result: {
        path: '/models/organism',
        sizeBytes: 17_800_000,
        expectedMemoryBytes: 20_300_000,
        contextLength: 256,
      },
    }),
  }
  const bridge: Record<string, unknown> = {}
  for (const name of requestNames) {
    bridge[name] = async (args: unknown) => {
      calls.push({ name, args })
      const answer = answers[name]
      return answer === undefined
        ? { ok: false, error: { code: 'internal', message: `The fake has no answer for ${name}.` } }
        : answer(args)
    }
  }
  bridge['on'] = (name: string, listener: (payload: unknown) => void) => {
    const set = listeners.get(name) ?? new Set()
    listeners.set(name, set)
    set.add(listener)
    return () => set.delete(listener)
  }
  return {
    bridge: bridge as TillerBridge,
    calls,
    answers,
    emit(name, payload) {
      for (const listener of listeners.get(name) ?? []) listener(payload)
    },
  }
}
