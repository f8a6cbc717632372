/**
 * The fitted-zero-point search's arithmetic as a WebAssembly module (block-kernels.ts `fitBlocksSimd` drives it). In
 * JavaScript one evaluation of a (scale, zero point) pair over a block's 32 values costs about 5 ns a value; here two
 * pairs share each f64x2 instruction at about 1.8 ns a value and pair, and the per-block passes leave JavaScript's
 * bounds checks behind. Every operation is the JavaScript kernel's own, in the same order and precision (float64,
 * float32 rounding by demote and promote, sums in element order), so the chosen blocks are bit for bit the same
 * (test/exporter/fitted-zero-points.test.ts).
 *
 * Exports its memory and three functions over byte addresses in it; values are float32 blocks of 32, tables float64:
 * - `range(values, count, out)`: per block, min(x, 0) and max(x, 0) to out[2b], out[2b + 1].
 * - `evaluate(pointers, scales, zeros, pairs, out)`: per pair p of candidates (block addresses pointers[2p],
 *   pointers[2p + 1] as int32, scales and zero points at [2p], [2p + 1]), Σ gap², Σ x·k and Σ k² (k = q − zero,
 *   gap = fround(scale·k) − x) to out[6p …]: both errors, both numerators, both denominators.
 * - `finish(values, scales, zeros, count, quants, statistics)`: per block, its 32 quants (bytes) at the block's
 *   scale and zero point, and Σ gap², Σ x², largest |gap| to statistics[3b …].
 */
import {
  f64Const,
  functionCode,
  i32Const,
  localGet as get,
  localSet as set,
  localTee as tee,
  memory,
  moduleHeader,
  name,
  op,
  section,
  sectionId,
  simd,
  valueType,
} from '../../wasm/encoding.ts'

const { i32, f64, v128 } = valueType
const blockBytes = 128
/** The highest quant of 4 bits. */
const top = 15

/** block … loop …: `exit` leaves both (branch depth 1 from inside the loop), `again` restarts the loop. */
function loopOver(exitWhen: number[], body: number[]): number[] {
  return [
    op.block,
    op.emptyBlockType,
    op.loop,
    op.emptyBlockType,
    ...exitWhen,
    op.brIf,
    1,
    ...body,
    op.br,
    0,
    op.end,
    op.end,
  ]
}

/** An inner loop over the 32 float32 values at local `at` (advanced by 4 each time, stops at local `stop`). */
function overValues(at: number, stop: number, body: number[]): number[] {
  return [
    ...[...get(at), ...i32Const(blockBytes), op.i32Add, ...set(stop)],
    op.loop,
    op.emptyBlockType,
    ...body,
    ...[
      ...get(at),
      ...i32Const(4),
      op.i32Add,
      ...tee(at),
      ...get(stop),
      op.i32LessUnsigned,
      op.brIf,
      0,
      op.end,
    ],
  ]
}

/** The float32 at local `at`, as float64. */
const loadValue = (at: number, offset = 0): number[] => [
  ...get(at),
  op.f32Load,
  ...memory(2, offset),
  op.f64PromoteF32,
]

/** local += bytes (i32; a negative step counts down). */
const advance = (local: number, bytes: number): number[] => [
  ...get(local),
  ...i32Const(bytes),
  op.i32Add,
  ...set(local),
]

/** extreme = candidate ⋚ extreme ? candidate : extreme (float64; `compare` is f64.lt or f64.gt). */
const keepExtreme = (candidate: number, extreme: number, compare: number): number[] => [
  ...[
    ...get(candidate),
    ...get(extreme),
    ...get(candidate),
    ...get(extreme),
    compare,
    op.select,
    ...set(extreme),
  ],
]

/** sum = sum + left · right (float64). */
const accumulateProduct = (sum: number, left: number, right: number): number[] => [
  ...[...get(sum), ...get(left), ...get(right), op.f64Mul, op.f64Add, ...set(sum)],
]

function rangeCode(): number[] {
  const [values, count, out, stop, value, lowest, highest] = [0, 1, 2, 3, 4, 5, 6]
  return functionCode(
    [
      [1, i32],
      [3, f64],
    ],
    loopOver(
      [...get(count), op.i32Eqz],
      [
        ...[...f64Const(0), ...set(lowest), ...f64Const(0), ...set(highest)],
        ...overValues(values, stop, [
          ...[...loadValue(values), ...set(value)],
          ...keepExtreme(value, lowest, op.f64Less),
          ...keepExtreme(value, highest, op.f64Greater),
        ]),
        ...[...get(out), ...get(lowest), op.f64Store, ...memory(3, 0)],
        ...[...get(out), ...get(highest), op.f64Store, ...memory(3, 8)],
        ...[...advance(out, 16), ...advance(count, -1)],
      ],
    ),
  )
}

function evaluateCode(): number[] {
  const [pointers, scales, zeros, pairs, out] = [0, 1, 2, 3, 4]
  const [first, second, stop] = [5, 6, 7]
  const [scale, zero, error, numerator, denominator, value, level, gap, half, highest, nothing] = [
    8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
  ]
  const accumulate = (sum: number, left: number, right: number): number[] => [
    ...[...get(sum), ...get(left), ...get(right), ...simd.f64x2Mul, ...simd.f64x2Add, ...set(sum)],
  ]
  return functionCode(
    [
      [3, i32],
      [11, v128],
    ],
    [
      ...[
        ...f64Const(0.5),
        ...simd.f64x2Splat,
        ...set(half),
        ...f64Const(top),
        ...simd.f64x2Splat,
        ...set(highest),
      ],
      ...loopOver(
        [...get(pairs), op.i32Eqz],
        [
          ...[...get(pointers), op.i32Load, ...memory(2, 0), ...set(first)],
          ...[...get(pointers), op.i32Load, ...memory(2, 4), ...set(second)],
          ...[...get(scales), ...simd.load, ...memory(3), ...set(scale)],
          ...[...get(zeros), ...simd.load, ...memory(3), ...set(zero)],
          ...[
            ...get(nothing),
            ...set(error),
            ...get(nothing),
            ...set(numerator),
            ...get(nothing),
            ...set(denominator),
          ],
          ...overValues(first, stop, [
            ...[
              ...loadValue(first),
              ...simd.f64x2Splat,
              ...loadValue(second),
              ...simd.f64x2ReplaceLane,
              1,
              ...set(value),
            ],
            // q = clamp(floor(x / scale + 0.5) + zero, 0, 15); k = q − zero
            ...[
              ...get(value),
              ...get(scale),
              ...simd.f64x2Div,
              ...get(half),
              ...simd.f64x2Add,
              ...simd.f64x2Floor,
            ],
            ...[...get(zero), ...simd.f64x2Add, ...get(nothing), ...simd.f64x2PseudoMax, ...get(highest)],
            ...[...simd.f64x2PseudoMin, ...get(zero), ...simd.f64x2Sub, ...set(level)],
            // gap = fround(scale · k) − x
            ...[...get(scale), ...get(level), ...simd.f64x2Mul, ...simd.f32x4DemoteF64x2Zero],
            ...[...simd.f64x2PromoteLowF32x4, ...get(value), ...simd.f64x2Sub, ...set(gap)],
            ...accumulate(error, gap, gap),
            ...accumulate(numerator, value, level),
            ...accumulate(denominator, level, level),
            ...advance(second, 4),
          ]),
          ...[...get(out), ...get(error), ...simd.store, ...memory(3, 0)],
          ...[...get(out), ...get(numerator), ...simd.store, ...memory(3, 16)],
          ...[...get(out), ...get(denominator), ...simd.store, ...memory(3, 32)],
          ...[...advance(pointers, 8), ...advance(scales, 16), ...advance(zeros, 16), ...advance(out, 48)],
          ...advance(pairs, -1),
        ],
      ),
    ],
  )
}

function finishCode(): number[] {
  const [values, scales, zeros, count, quants, statistics] = [0, 1, 2, 3, 4, 5]
  const [stop, scale, zero, value, quant, gap, squaredError, squaredValues, largest] = [
    6, 7, 8, 9, 10, 11, 12, 13, 14,
  ]
  // quant = quant ⋚ limit ? limit : quant
  const clamp = (limit: number, compare: number): number[] => [
    ...[
      ...f64Const(limit),
      ...get(quant),
      ...get(quant),
      ...f64Const(limit),
      compare,
      op.select,
      ...set(quant),
    ],
  ]
  return functionCode(
    [
      [1, i32],
      [8, f64],
    ],
    loopOver(
      [...get(count), op.i32Eqz],
      [
        ...[
          ...get(scales),
          op.f64Load,
          ...memory(3),
          ...set(scale),
          ...get(zeros),
          op.f64Load,
          ...memory(3),
          ...set(zero),
        ],
        ...[
          ...f64Const(0),
          ...set(squaredError),
          ...f64Const(0),
          ...set(squaredValues),
          ...f64Const(0),
          ...set(largest),
        ],
        ...overValues(values, stop, [
          ...[...loadValue(values), ...set(value)],
          ...[
            ...get(value),
            ...get(scale),
            op.f64Div,
            ...f64Const(0.5),
            op.f64Add,
            op.f64Floor,
            ...get(zero),
            op.f64Add,
          ],
          ...[...set(quant), ...clamp(0, op.f64Less), ...clamp(top, op.f64Greater)],
          ...[
            ...get(quants),
            ...get(quant),
            op.i32TruncateF64Unsigned,
            op.i32Store8,
            ...memory(0),
            ...advance(quants, 1),
          ],
          // |fround(scale · (quant − zero)) − x|
          ...[
            ...get(scale),
            ...get(quant),
            ...get(zero),
            op.f64Sub,
            op.f64Mul,
            op.f32DemoteF64,
            op.f64PromoteF32,
          ],
          ...[...get(value), op.f64Sub, op.f64Abs, ...set(gap)],
          ...keepExtreme(gap, largest, op.f64Greater),
          ...accumulateProduct(squaredError, gap, gap),
          ...accumulateProduct(squaredValues, value, value),
        ]),
        ...[...get(statistics), ...get(squaredError), op.f64Store, ...memory(3, 0)],
        ...[...get(statistics), ...get(squaredValues), op.f64Store, ...memory(3, 8)],
        ...[...get(statistics), ...get(largest), op.f64Store, ...memory(3, 16)],
        ...[...advance(statistics, 24), ...advance(scales, 8), ...advance(zeros, 8)],
        ...advance(count, -1),
      ],
    ),
  )
}

let moduleBytes: Uint8Array | undefined

/**
 * The module's bytes, built once: one page of memory to start with (exported as `memory`), then `range`,
 * `evaluate`, `finish`.
 */
export function fitKernelModule(): Uint8Array {
  moduleBytes ??= buildModule()
  return moduleBytes
}

function buildModule(): Uint8Array {
  const signature = (parameters: number[]): number[] => [0x60, parameters.length, ...parameters, 0]
  const types = [
    signature([i32, i32, i32]),
    signature([i32, i32, i32, i32, i32]),
    signature([i32, i32, i32, i32, i32, i32]),
  ]
  const exported = (text: string, kind: number, index: number): number[] => [...name(text), kind, index]
  return new Uint8Array([
    ...moduleHeader,
    ...section(sectionId.type, [types.length, ...types.flat()]),
    ...section(sectionId.function, [3, 0, 1, 2]),
    // One memory, at least one page, no maximum.
    ...section(sectionId.memory, [1, 0, 1]),
    ...section(sectionId.export, [
      4,
      ...exported('range', 0, 0),
      ...exported('evaluate', 0, 1),
      ...exported('finish', 0, 2),
      ...exported('memory', 2, 0),
    ]),
    ...section(sectionId.code, [3, ...rangeCode(), ...evaluateCode(), ...finishCode()]),
  ])
}
