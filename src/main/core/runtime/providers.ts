/**
 * Execution-provider probing: which of CUDA, DirectML and CPU can run on this machine, and why the others cannot.
 *
 * A probe first checks the platform and the provider libraries on disk (cheap, explains the usual reasons), then
 * confirms by creating a one-node session on that provider alone, so "available" means ONNX Runtime really loaded it.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'
import type {
  ExecutionProviderChoice,
  ExecutionProviderName,
  ProviderProbe,
  ProviderReport,
} from '../../../shared/engine-status.ts'

/** The providers `auto` tries, in order. */
export const providerOrder: readonly ExecutionProviderName[] = ['cuda', 'dml', 'cpu']

/** Where onnxruntime-node keeps its native binding and the provider libraries that sit beside it. */
export function bindingFolder(): string {
  const require = createRequire(import.meta.url)
  const packageRoot = dirname(require.resolve('onnxruntime-node/package.json'))
  return join(packageRoot, 'bin', 'napi-v6', process.platform, process.arch)
}

/**
 * A model with one Identity node: the smallest graph a provider can be asked to load. The ONNX protobuf module
 * loads only here, when a GPU provider is probed, so a CPU run's start does not pay for it.
 */
async function identityModel(): Promise<Uint8Array> {
  const { onnx } = (await import('onnx-proto')).default
  const valueInfo = (name: string) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } },
  })
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'probe',
      node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'identity' }],
      input: [valueInfo('x')],
      output: [valueInfo('y')],
    },
  })
  return onnx.ModelProto.encode(model).finish()
}

function firstSentence(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  const line = text.split('\n').find((part) => part.trim() !== '') ?? text
  return line.trim().slice(0, 240)
}

/** Try to create a session on `provider` alone; returns the failure message, or undefined when it worked. */
async function trySession(provider: 'cuda' | 'dml'): Promise<string | undefined> {
  try {
    const session = await ort.InferenceSession.create(await identityModel(), {
      executionProviders: [provider],
    })
    await session.release()
    return undefined
  } catch (error) {
    return firstSentence(error)
  }
}

async function probeCuda(): Promise<ProviderProbe> {
  const platform = `${process.platform}/${process.arch}`
  if (platform !== 'linux/x64' && platform !== 'win32/x64') {
    return { name: 'cuda', available: false, reason: `CUDA is not offered by ONNX Runtime on ${platform}.` }
  }
  const library =
    process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'
  const libraryPath = join(bindingFolder(), library)
  if (!existsSync(libraryPath)) {
    const fix =
      process.platform === 'linux'
        ? 'run `npm run setup:cuda` to install them (needs the NVIDIA driver, CUDA 12 and cuDNN 9)'
        : 'this onnxruntime-node build ships no CUDA provider for Windows; DirectML is used instead'
    return {
      name: 'cuda',
      available: false,
      reason: `The CUDA provider library ${library} is not installed beside the ONNX Runtime binding; ${fix}.`,
    }
  }
  const failure = await trySession('cuda')
  if (failure !== undefined) {
    return {
      name: 'cuda',
      available: false,
      reason: `${library} is installed but ONNX Runtime could not start CUDA (${failure}); check the NVIDIA driver, CUDA 12 and cuDNN 9.`,
    }
  }
  return {
    name: 'cuda',
    available: true,
    reason: `CUDA started with ${library} from the ONNX Runtime binding folder.`,
  }
}

async function probeDirectMl(): Promise<ProviderProbe> {
  if (process.platform !== 'win32') {
    return { name: 'dml', available: false, reason: 'DirectML exists only on Windows.' }
  }
  const failure = await trySession('dml')
  if (failure !== undefined) {
    return {
      name: 'dml',
      available: false,
      reason: `DirectML could not start (${failure}); update the graphics driver or use --provider cpu.`,
    }
  }
  return {
    name: 'dml',
    available: true,
    reason: 'DirectML started with the DirectML.dll bundled in onnxruntime-node.',
  }
}

function probeCpu(): ProviderProbe {
  return {
    name: 'cpu',
    available: true,
    reason: 'The CPU provider is built into ONNX Runtime and always available.',
  }
}

async function probe(name: ExecutionProviderName): Promise<ProviderProbe> {
  switch (name) {
    case 'cuda':
      return probeCuda()
    case 'dml':
      return probeDirectMl()
    case 'cpu':
      return probeCpu()
  }
}

/**
 * Probe every provider and pick the active one for `choice`.
 *
 * `auto` takes the first available of CUDA, DirectML, CPU. An explicit choice that is unavailable falls back to
 * CPU; the chosen provider's probe then says why, and the CPU probe's reason says it was used as the fallback.
 */
export async function probeProviders(choice: ExecutionProviderChoice): Promise<ProviderReport> {
  const probes: ProviderProbe[] = []
  for (const name of providerOrder) probes.push(await probe(name))
  const wanted: ExecutionProviderName[] = choice === 'auto' ? [...providerOrder] : [choice, 'cpu']
  const active = wanted.find((name) => probes.find((entry) => entry.name === name)?.available) ?? 'cpu'
  if (choice !== 'auto' && choice !== active) {
    const cpu = probes.find((entry) => entry.name === 'cpu')
    if (cpu !== undefined)
      cpu.reason = `${cpu.reason} Used because ${choice} was requested but is unavailable.`
  }
  return { active, probes }
}

/** Parse a user's `--provider` value; returns undefined for anything that is not a provider choice. */
export function parseProviderChoice(value: string): ExecutionProviderChoice | undefined {
  return value === 'auto' || value === 'cpu' || value === 'cuda' || value === 'dml' ? value : undefined
}
