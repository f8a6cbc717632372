/**
 * AdamW as one fused pass over each parameter: reads p, g, M, V and writes p, M, V once per element, in a small
 * WebAssembly kernel on four float32 lanes. Written as ONNX nodes the same update is ten element-wise passes, each a
 * separate trip through memory; over HPR's 2.6 M angle weights those took about two thirds of a training step's kernel
 * time, and ONNX Runtime's inference build has no fused optimizer op (docs/performance.md "Fit cost"). The parameters,
 * gradients and moments live in the kernel's memory; the training graph writes its gradients straight into it
 * (pre-allocated outputs) and reads the parameters from it, so nothing is copied between steps.
 *
 * Same arithmetic as graph-pieces.ts' `adamWStep`, in float32: unscaled moments M' = β₁M + g, V' = β₂V + g²,
 * p' = p·decay − stepSize·M' / (sqrt(V') + ε̂), with the scalars of `optimizerScalars`.
 */
import type { GraphParameter } from './graph-session.ts'
import { optimizerInputs, optimizerScalars, type AdamWConstants } from './graph-pieces.ts'
import {
  functionCode,
  leb,
  localGet,
  localSet,
  moduleHeader,
  name,
  op,
  pageBytes,
  section,
  sectionId,
  simd,
  valueType,
  webAssembly,
} from '../../wasm/encoding.ts'

/** Bytes of a float32x4 lane group: every tensor's region starts and ends on one. */
const laneBytes = 16
/** wasm32's address space. */
const largestMemoryPages = 65_536

const { i32, f32, v128 } = valueType
/** Memory immediate of a 16-byte-aligned access at offset 0: log2 alignment, offset. */
const aligned = [4, 0]

/** Parameter and local indices of the kernel `adamw(p, g, m, v, bytes, β₁, β₂, stepSize, ε̂, decay)`. */
const slot = {
  parameter: 0,
  gradient: 1,
  first: 2,
  second: 3,
  bytes: 4,
  beta1: 5,
  beta2: 6,
  stepSize: 7,
  epsilon: 8,
  decay: 9,
  offset: 10,
  g: 11,
  m: 12,
  v: 13,
  beta1s: 14,
  beta2s: 15,
  stepSizes: 16,
  epsilons: 17,
  decays: 18,
}

const get = localGet
const set = localSet
/** The lane group at byte `offset` of the region starting at local `base`. */
const address = (base: number): number[] => [...get(base), ...get(slot.offset), op.i32Add]
const load = (base: number): number[] => [...address(base), ...simd.load, ...aligned]

/** The kernel's function body: locals, the splats of the scalars, the loop over lane groups. */
function kernelBody(): number[] {
  const splats = (
    [
      [slot.beta1, slot.beta1s],
      [slot.beta2, slot.beta2s],
      [slot.stepSize, slot.stepSizes],
      [slot.epsilon, slot.epsilons],
      [slot.decay, slot.decays],
    ] as const
  ).flatMap(([scalar, lanes]) => [...get(scalar), ...simd.f32x4Splat, ...set(lanes)])
  const loop = [
    ...[op.block, op.emptyBlockType, op.loop, op.emptyBlockType],
    ...[...get(slot.offset), ...get(slot.bytes), op.i32GreaterOrEqualUnsigned, op.brIf, 1],
    ...[...load(slot.gradient), ...set(slot.g)],
    // M' = β₁M + g
    ...[
      ...load(slot.first),
      ...get(slot.beta1s),
      ...simd.f32x4Mul,
      ...get(slot.g),
      ...simd.f32x4Add,
      ...set(slot.m),
    ],
    // V' = β₂V + g²
    ...[...load(slot.second), ...get(slot.beta2s), ...simd.f32x4Mul],
    ...[...get(slot.g), ...get(slot.g), ...simd.f32x4Mul, ...simd.f32x4Add, ...set(slot.v)],
    ...[...address(slot.first), ...get(slot.m), ...simd.store, ...aligned],
    ...[...address(slot.second), ...get(slot.v), ...simd.store, ...aligned],
    // p' = p·decay − stepSize · M' / (sqrt(V') + ε̂)
    ...[...address(slot.parameter), ...load(slot.parameter), ...get(slot.decays), ...simd.f32x4Mul],
    ...[
      ...get(slot.m),
      ...get(slot.v),
      ...simd.f32x4Sqrt,
      ...get(slot.epsilons),
      ...simd.f32x4Add,
      ...simd.f32x4Div,
    ],
    ...[...get(slot.stepSizes), ...simd.f32x4Mul, ...simd.f32x4Sub, ...simd.store, ...aligned],
    ...[...get(slot.offset), op.i32Const, ...leb(laneBytes), op.i32Add, ...set(slot.offset)],
    ...[op.br, 0, op.end, op.end],
  ]
  // One i32 local (the offset), then the eight lane-group locals.
  return functionCode(
    [
      [1, i32],
      [8, v128],
    ],
    [...splats, ...loop],
  )
}

/** The module: imports its memory as env.memory, exports `adamw`. */
function kernelModule(): Uint8Array {
  const signature = [0x60, 10, i32, i32, i32, i32, i32, f32, f32, f32, f32, f32, 0]
  const memoryImport = [...name('env'), ...name('memory'), 0x02, 0x00, 1]
  return new Uint8Array([
    ...moduleHeader,
    ...section(sectionId.type, [1, ...signature]),
    ...section(sectionId.import, [1, ...memoryImport]),
    ...section(sectionId.function, [1, 0]),
    ...section(sectionId.export, [1, ...name('adamw'), 0x00, 0]),
    ...section(sectionId.code, [1, ...kernelBody()]),
  ])
}

type Kernel = (
  parameter: number,
  gradient: number,
  first: number,
  second: number,
  bytes: number,
  beta1: number,
  beta2: number,
  stepSize: number,
  epsilon: number,
  decay: number,
) => void

let compiled: object | undefined

/**
 * The same update in JavaScript over `buffer`, for a runtime that cannot compile the SIMD kernel (x86 processors
 * without SSE4.1): several times slower, same formulas, each result rounded to float32 as the kernel stores it.
 */
function javascriptKernel(buffer: ArrayBuffer): Kernel {
  const floats = new Float32Array(buffer)
  return (parameter, gradient, first, second, bytes, ...scalars) => {
    // The kernel takes its scalars as float32.
    const [beta1, beta2, stepSize, epsilon, decay] = scalars.map(Math.fround) as typeof scalars
    const [parameterAt, gradientAt, firstAt, secondAt] = [parameter, gradient, first, second].map(
      (offset) => offset / 4,
    ) as [number, number, number, number]
    for (let index = 0; index < bytes / 4; index++) {
      const slope = floats[gradientAt + index] as number
      const moment = Math.fround(Math.fround((floats[firstAt + index] as number) * beta1) + slope)
      const square = Math.fround(
        Math.fround((floats[secondAt + index] as number) * beta2) + Math.fround(slope * slope),
      )
      floats[firstAt + index] = moment
      floats[secondAt + index] = square
      const denominator = Math.fround(Math.fround(Math.sqrt(square)) + epsilon)
      const step = Math.fround(Math.fround(moment / denominator) * stepSize)
      floats[parameterAt + index] = Math.fround((floats[parameterAt + index] as number) * decay) - step
    }
  }
}

/** The SIMD kernel over `memory`, or undefined when this runtime cannot compile it. */
function simdKernel(memory: { buffer: ArrayBuffer }): Kernel | undefined {
  try {
    compiled ??= new webAssembly.Module(kernelModule())
    return new webAssembly.Instance(compiled, { env: { memory } }).exports['adamw'] as Kernel
  } catch {
    return undefined
  }
}

/** A parameter's four regions in the kernel's memory (byte offsets) and its dims. */
interface Regions {
  dims: number[]
  length: number
  parameter: number
  gradient: number
  first: number
  second: number
  /** Bytes of each region, a whole number of lane groups. */
  bytes: number
}

/**
 * AdamW over named float32 parameters held in one WebAssembly memory. `parameters` and `gradients` are views
 * into it: feed the parameters to a graph, let it write the gradients (pre-allocated outputs), then `step`.
 */
export class FusedAdamW {
  readonly parameters = new Map<string, GraphParameter>()
  readonly gradients = new Map<string, GraphParameter>()
  private readonly regions = new Map<string, Regions>()
  private readonly kernel: Kernel
  private stepCount = 0

  /** Whether the update runs as the SIMD kernel (else as `javascriptKernel`). */
  readonly simd: boolean

  /** `options.javascript` forces the JavaScript update (tests compare the two). */
  constructor(
    initial: ReadonlyMap<string, GraphParameter>,
    private readonly constants: AdamWConstants,
    options: { javascript?: boolean } = {},
  ) {
    let used = 0
    const claim = (bytes: number): number => {
      const start = used
      used += bytes
      return start
    }
    for (const [parameterName, parameter] of initial) {
      const length = parameter.values.length
      const bytes = Math.ceil((length * 4) / laneBytes) * laneBytes
      this.regions.set(parameterName, {
        dims: parameter.dims,
        length,
        bytes,
        parameter: claim(bytes),
        gradient: claim(bytes),
        first: claim(bytes),
        second: claim(bytes),
      })
    }
    const pages = Math.max(1, Math.ceil(used / pageBytes))
    if (pages > largestMemoryPages)
      throw new RangeError(
        `the optimizer needs ${(used / 2 ** 30).toFixed(1)} GiB for its parameters, gradients and moments; ` +
          'a WebAssembly memory holds at most 4 GiB: train fewer layers at once',
      )
    // Fresh pages are zero: the moments and the padding after each region start at 0 and stay there.
    const memory = new webAssembly.Memory({ initial: pages })
    const simd = options.javascript === true ? undefined : simdKernel(memory)
    this.simd = simd !== undefined
    this.kernel = simd ?? javascriptKernel(memory.buffer)
    for (const [parameterName, region] of this.regions) {
      const view = (offset: number) => new Float32Array(memory.buffer, offset, region.length)
      const values = view(region.parameter)
      values.set((initial.get(parameterName) as GraphParameter).values)
      this.parameters.set(parameterName, { values, dims: region.dims })
      this.gradients.set(parameterName, { values: view(region.gradient), dims: region.dims })
    }
  }

  /** One AdamW step at `learningRate` with the gradients now in `gradients`. */
  step(learningRate: number): void {
    this.stepCount++
    const scalars = optimizerScalars(this.constants, this.stepCount, learningRate)
    for (const region of this.regions.values()) {
      this.kernel(
        region.parameter,
        region.gradient,
        region.first,
        region.second,
        region.bytes,
        this.constants.beta1,
        this.constants.beta2,
        scalars[optimizerInputs.stepSize],
        scalars[optimizerInputs.epsilon],
        scalars[optimizerInputs.decay],
      )
    }
  }
}
