/**
 * The fitted-zero-point search as a WebAssembly module (block-kernels.ts `fitBlocksSimd` drives it). A try's
 * evaluation runs on four values at a time in float32 lanes, the search's bookkeeping (fit-search-code.ts) and the
 * final pass over two blocks at a time, all without JavaScript's typed-array checks in the loops. Every operation is
 * the JavaScript kernel's own (block-kernels.ts `fitBlocks`), in the same order and precision, so the chosen blocks
 * are bit for bit the same (test/exporter/fitted-zero-points.test.ts).
 *
 * Exports its memory and six functions over byte addresses in it; values are float32 blocks of 32, tables of
 * candidates hold int32 block addresses and float64 scales, zero points and −min(x, 0):
 * - `range(values, count, out)`: per block, min(x, 0) and max(x, 0) to out[2b], out[2b + 1] (float64).
 * - `start(…)` (fit-search-code.ts): the first round's candidates, one per try.
 * - `evaluate(pointers, scales, zeros, lowests, count, out)`: per candidate c, to out[3c …] (float64) its error
 *   Σ gap² (k = q − zero, gap = scale·k − x), its refined scale Σ x·k / Σ k² (the scale itself where Σ k² = 0) and
 *   the refined scale's zero point clamp(floor(−min(x, 0) / refined + 0.5)); the sums are float32 lanes of four.
 * - `choose(…)` (fit-search-code.ts): each block's choice so far and the next round's candidates.
 * - `finish(values, scales, zeros, count, quants, statistics)`: per block, its 32 quants (bytes) at the block's
 *   scale and zero point, and Σ gap², Σ x², largest |gap| to statistics[3b …] (float64, in element order, two blocks
 *   in the lanes of f64x2).
 * - `requantize(values, scales, zeros, count, quants, statistics, levels)`: `finish` for the min/max requantizer
 *   (block-kernels.ts `requantizeBlocks`): the quotient and its rounding in float64, quants in 0..levels.
 */
import {
  f32Const,
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
import {
  advance,
  blockBytes,
  clampToLevels,
  keepExtreme,
  loadValue,
  loopOver,
  overValues,
  top,
} from './fit-kernel-code.ts'
import { chooseCode, startCode } from './fit-search-code.ts'

const { i32, f32, f64, v128 } = valueType

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

/** The sum of a f32x4 on the stack as float32 (v₀ + v₂) + (v₁ + v₃), swapping halves, then neighbours. */
function laneSum(vector: number): number[] {
  const swapHalves = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]
  const swapNeighbours = [4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11]
  return [
    ...[...get(vector), ...get(vector), ...get(vector), ...simd.shuffle, ...swapHalves, ...simd.f32x4Add],
    ...[...tee(vector), ...get(vector), ...get(vector), ...simd.shuffle, ...swapNeighbours, ...simd.f32x4Add],
    ...[...simd.f32x4ExtractLane, 0],
  ]
}

function evaluateCode(): number[] {
  const [pointers, scales, zeros, lowests, count, out] = [0, 1, 2, 3, 4, 5]
  const [at, stop] = [6, 7]
  const [scale, refined, zeroPoint, numerator, denominator] = [8, 9, 10, 11, 12]
  const [scales4, zeros4, error, numerators, denominators, value, level, gap, half, highest, nothing] = [
    13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
  ]
  const accumulate = (sum: number, left: number, right: number): number[] => [
    ...[...get(sum), ...get(left), ...get(right), ...simd.f32x4Mul, ...simd.f32x4Add, ...set(sum)],
  ]
  return functionCode(
    [
      [2, i32],
      [3, f64],
      [2, f32],
      [11, v128],
    ],
    [
      ...[
        ...f32Const(0.5),
        ...simd.f32x4Splat,
        ...set(half),
        ...f32Const(top),
        ...simd.f32x4Splat,
        ...set(highest),
      ],
      ...loopOver(
        [...get(count), op.i32Eqz],
        [
          ...[...get(pointers), op.i32Load, ...memory(2, 0), ...set(at)],
          ...[...get(scales), op.f64Load, ...memory(3), ...tee(scale), op.f32DemoteF64, ...simd.f32x4Splat],
          ...[...set(scales4), ...get(zeros), op.f64Load, ...memory(3), op.f32DemoteF64, ...simd.f32x4Splat],
          ...[...set(zeros4), ...get(nothing), ...set(error), ...get(nothing), ...set(numerators)],
          ...[...get(nothing), ...set(denominators)],
          ...overValues(
            at,
            stop,
            [
              ...[...get(at), ...simd.load, ...memory(2), ...set(value)],
              // q = clamp(floor(x / scale + 0.5) + zero, 0, 15); k = q − zero; float32 lanes
              ...[
                ...get(value),
                ...get(scales4),
                ...simd.f32x4Div,
                ...get(half),
                ...simd.f32x4Add,
                ...simd.f32x4Floor,
              ],
              ...[...get(zeros4), ...simd.f32x4Add, ...get(nothing), ...simd.f32x4PseudoMax, ...get(highest)],
              ...[...simd.f32x4PseudoMin, ...get(zeros4), ...simd.f32x4Sub, ...set(level)],
              // gap = scale · k − x
              ...[
                ...get(scales4),
                ...get(level),
                ...simd.f32x4Mul,
                ...get(value),
                ...simd.f32x4Sub,
                ...set(gap),
              ],
              ...accumulate(error, gap, gap),
              ...accumulate(numerators, value, level),
              ...accumulate(denominators, level, level),
            ],
            16,
          ),
          ...[...get(out), ...laneSum(error), op.f64PromoteF32, op.f64Store, ...memory(3, 0)],
          // refined = Σ x·k / Σ k² (float32) where Σ k² > 0, else the scale
          ...[...laneSum(numerators), ...set(numerator), ...laneSum(denominators), ...set(denominator)],
          ...[...get(numerator), ...get(denominator), op.f32Div, ...get(scale), op.f32DemoteF64],
          ...[
            ...get(denominator),
            ...f32Const(0),
            op.f32Greater,
            op.select,
            op.f64PromoteF32,
            ...set(refined),
          ],
          ...[...get(out), ...get(refined), op.f64Store, ...memory(3, 8)],
          // its zero point clamp(floor(−min(x, 0) / refined + 0.5)) (float64)
          ...[...get(out), ...get(lowests), op.f64Load, ...memory(3), ...get(refined), op.f64Div],
          ...[
            ...f64Const(0.5),
            op.f64Add,
            op.f64Floor,
            ...clampToLevels(zeroPoint),
            op.f64Store,
            ...memory(3, 16),
          ],
          ...[...advance(pointers, 4), ...advance(scales, 8), ...advance(zeros, 8), ...advance(lowests, 8)],
          ...[...advance(out, 24), ...advance(count, -1)],
        ],
      ),
    ],
  )
}

/**
 * `finish` (quotient 'float32', the fit's rounding, quants in 0..15) or `requantize` (quotient 'float64', the
 * min/max requantizer's rounding floor(x / scale + 0.5) in float64, quants in 0..levels with `levels` its seventh
 * parameter).
 */
function finishCode(quotient: 'float32' | 'float64'): number[] {
  // The requantizer's seventh parameter moves every local up by one.
  const local = (index: number): number => index + (quotient === 'float64' ? 1 : 0)
  const [values, scales, zeros, count, quants, statistics, levels] = [0, 1, 2, 3, 4, 5, 6]
  const [first, second, stop] = [local(6), local(7), local(8)]
  const [firstQuant, secondQuant, other] = [local(9), local(10), local(11)]
  const [scale, zero, scales4, value, quant, gap] = [
    local(12),
    local(13),
    local(14),
    local(15),
    local(16),
    local(17),
  ]
  const [squaredError, squaredValues, largest] = [local(18), local(19), local(20)]
  const [half, highest, nothing] = [local(21), local(22), local(23)]
  const limits =
    quotient === 'float32'
      ? [
          ...f32Const(0.5),
          ...simd.f32x4Splat,
          ...set(half),
          ...f64Const(top),
          ...simd.f64x2Splat,
          ...set(highest),
        ]
      : [
          ...[...f64Const(0.5), ...simd.f64x2Splat, ...set(half), ...get(levels), op.f64ConvertI32Unsigned],
          ...[...simd.f64x2Splat, ...set(highest)],
        ]
  // floor(x / scale + 0.5) as float64 lanes, from the values [x_a, x_b, 0, 0] on the stack
  const rounded =
    quotient === 'float32'
      ? [...get(scales4), ...simd.f32x4Div, ...get(half), ...simd.f32x4Add, ...simd.f32x4Floor]
      : [...simd.f64x2PromoteLowF32x4, ...get(scale), ...simd.f64x2Div, ...get(half), ...simd.f64x2Add]
  const widened = quotient === 'float32' ? simd.f64x2PromoteLowF32x4 : simd.f64x2Floor
  // The fit divides in float32 lanes; the requantizer reports only the largest gap, its sums staying 0.
  const scaleLanes =
    quotient === 'float32' ? [...tee(scale), ...simd.f32x4DemoteF64x2Zero, ...set(scales4)] : [...set(scale)]
  // The float64 pair [a at `address`, b at `address + other · bytes`] (other is 0 or 1).
  const pairAt = (address: number, bytes: number): number[] => [
    ...[...get(address), op.f64Load, ...memory(3), ...simd.f64x2Splat, ...get(address), ...get(other)],
    ...[...i32Const(bytes), op.i32Mul, op.i32Add, op.f64Load, ...memory(3), ...simd.f64x2ReplaceLane, 1],
  ]
  // statistics of the first block (lane 0) and of the other (lane 1)
  const storeStatistic = (sum: number, offset: number): number[] => [
    ...[...get(statistics), ...get(sum), ...simd.f64x2ExtractLane, 0, op.f64Store, ...memory(3, offset)],
    ...[...get(statistics), ...get(other), ...i32Const(24), op.i32Mul, op.i32Add, ...get(sum)],
    ...[...simd.f64x2ExtractLane, 1, op.f64Store, ...memory(3, offset)],
  ]
  const storeQuant = (address: number, lane: number): number[] => [
    ...[...get(address), ...get(quant), ...simd.f64x2ExtractLane, lane, op.i32TruncateF64Unsigned],
    ...[op.i32Store8, ...memory(0), ...advance(address, 1)],
  ]
  const accumulate = (sum: number, left: number, right: number): number[] => [
    ...[...get(sum), ...get(left), ...get(right), ...simd.f64x2Mul, ...simd.f64x2Add, ...set(sum)],
  ]
  const sums =
    quotient === 'float32'
      ? [...accumulate(squaredError, gap, gap), ...accumulate(squaredValues, value, value)]
      : []
  return functionCode(
    [
      [6, i32],
      [12, v128],
    ],
    [
      ...limits,
      ...loopOver(
        [...get(count), op.i32Eqz],
        [
          // Two blocks a time, the last one alone (as its own pair) when the count is odd.
          ...[...get(count), ...i32Const(2), op.i32GreaterOrEqualUnsigned, ...set(other)],
          ...[...pairAt(scales, 8), ...scaleLanes],
          ...[...pairAt(zeros, 8), ...set(zero)],
          ...[
            ...get(values),
            ...set(first),
            ...get(values),
            ...get(other),
            ...i32Const(blockBytes),
            op.i32Mul,
          ],
          ...[op.i32Add, ...set(second), ...get(quants), ...set(firstQuant), ...get(quants), ...get(other)],
          ...[...i32Const(32), op.i32Mul, op.i32Add, ...set(secondQuant)],
          ...[...get(nothing), ...set(squaredError), ...get(nothing), ...set(squaredValues)],
          ...[...get(nothing), ...set(largest)],
          ...overValues(first, stop, [
            ...[...get(first), op.f32Load, ...memory(2), ...simd.f32x4Splat, ...get(second), op.f32Load],
            ...[...memory(2), ...simd.f32x4ReplaceLane, 1, ...tee(value)],
            // q = clamp(floor(x / scale + 0.5) + zero, 0, highest)
            ...[...rounded, ...widened, ...get(zero), ...simd.f64x2Add, ...get(nothing)],
            ...[...simd.f64x2PseudoMax, ...get(highest), ...simd.f64x2PseudoMin, ...set(quant)],
            ...storeQuant(firstQuant, 0),
            ...storeQuant(secondQuant, 1),
            // |fround(scale · (quant − zero)) − x|
            ...[...get(scale), ...get(quant), ...get(zero), ...simd.f64x2Sub, ...simd.f64x2Mul],
            ...[...simd.f32x4DemoteF64x2Zero, ...simd.f64x2PromoteLowF32x4, ...get(value)],
            ...[...simd.f64x2PromoteLowF32x4, ...tee(value), ...simd.f64x2Sub, ...simd.f64x2Abs, ...set(gap)],
            ...[...get(largest), ...get(gap), ...simd.f64x2PseudoMax, ...set(largest)],
            ...sums,
            ...advance(second, 4),
          ]),
          ...storeStatistic(squaredError, 0),
          ...storeStatistic(squaredValues, 8),
          ...storeStatistic(largest, 16),
          ...[...advance(values, 2 * blockBytes), ...advance(scales, 16), ...advance(zeros, 16)],
          ...[...advance(quants, 64), ...advance(statistics, 48)],
          // count −= 1 + other
          ...[...get(count), ...i32Const(1), op.i32Sub, ...get(other), op.i32Sub, ...set(count)],
        ],
      ),
    ],
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
  const signature = (parameters: number, results: number[] = []): number[] => [
    0x60,
    parameters,
    ...new Array<number>(parameters).fill(i32),
    results.length,
    ...results,
  ]
  // range; evaluate and finish; start; choose; requantize
  const types = [signature(3), signature(6), signature(9, [i32]), signature(13, [i32]), signature(7)]
  const exported = (text: string, kind: number, index: number): number[] => [...name(text), kind, index]
  return new Uint8Array([
    ...moduleHeader,
    ...section(sectionId.type, [types.length, ...types.flat()]),
    ...section(sectionId.function, [6, 0, 1, 1, 2, 3, 4]),
    // One memory, at least one page, no maximum.
    ...section(sectionId.memory, [1, 0, 1]),
    ...section(sectionId.export, [
      7,
      ...exported('range', 0, 0),
      ...exported('evaluate', 0, 1),
      ...exported('finish', 0, 2),
      ...exported('start', 0, 3),
      ...exported('choose', 0, 4),
      ...exported('requantize', 0, 5),
      ...exported('memory', 2, 0),
    ]),
    ...section(sectionId.code, [
      6,
      ...rangeCode(),
      ...evaluateCode(),
      ...finishCode('float32'),
      ...startCode(),
      ...chooseCode(),
      ...finishCode('float64'),
    ]),
  ])
}
