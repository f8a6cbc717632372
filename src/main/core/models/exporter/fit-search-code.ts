/**
 * The fitted-zero-point search's bookkeeping as WebAssembly functions of the fit kernel (fit-kernel-module.ts):
 * the candidate table of the first round, and after each round's `evaluate` the blocks' choices and the next
 * round's table. In JavaScript these loops cost as much as the evaluation itself (typed-array checks and
 * branches on every entry); block-kernels.ts `fitBlocks` defines what they compute.
 *
 * Tables over byte addresses, one entry per candidate: block addresses and entry blocks and orders as int32,
 * scales, zero points and −min(x, 0) as float64; per block, the choice so far (scale, zero point, error as
 * float64, its order try · 3 + round as int32).
 */
import {
  f64Const,
  functionCode,
  i32Const,
  localGet as get,
  localSet as set,
  memory,
  op,
  valueType,
} from '../../wasm/encoding.ts'
import { advance, blockBytes, clampToLevels, loopOver, when } from './fit-kernel-code.ts'

const { i32, f64 } = valueType
/** How many steps the block's range is spread over, one try each (fitBlocks' stepCounts). */
const stepCounts = [15, 14, 14.5, 15.5, 16]
const rounds = 3

/** address + (index << shift): the element `index` of a table of 2^shift-byte entries at `address`. */
const element = (address: number, index: number, shift: number): number[] => [
  ...get(address),
  ...get(index),
  ...i32Const(shift),
  op.i32ShiftLeft,
  op.i32Add,
]

/**
 * `start(ranges, count, values, pointers, scales, zeros, lowests, blocks, orders) → candidates`: for each block
 * with max(x, 0) ≠ min(x, 0) (ranges: both per block, float64) and each try, the first scale
 * fround((max − min) / steps) when positive, its zero point clamp(floor(−min / scale + 0.5)), the block's address
 * in `values`, −min, and order try · 3. Returns the number of candidates.
 */
export function startCode(): number[] {
  const [ranges, count, values, pointers, scales, zeros, lowests, blocks, orders] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8,
  ]
  const [block, candidates] = [9, 10]
  const [lowest, highest, scale, zero] = [11, 12, 13, 14]
  const tries = stepCounts.flatMap((steps, tried) => [
    ...[...get(highest), ...get(lowest), op.f64Sub, ...f64Const(steps), op.f64Div],
    ...[op.f32DemoteF64, op.f64PromoteF32, ...set(scale)],
    ...when(
      [...get(scale), ...f64Const(0), op.f64Greater],
      [
        ...[...get(lowest), op.f64Negate, ...get(scale), op.f64Div, ...f64Const(0.5), op.f64Add, op.f64Floor],
        ...[...clampToLevels(zero), ...set(zero)],
        ...[...element(blocks, candidates, 2), ...get(block), op.i32Store, ...memory(2)],
        ...[...element(orders, candidates, 2), ...i32Const(tried * rounds), op.i32Store, ...memory(2)],
        ...[...element(pointers, candidates, 2), ...element(values, block, Math.log2(blockBytes))],
        ...[op.i32Store, ...memory(2)],
        ...[...element(scales, candidates, 3), ...get(scale), op.f64Store, ...memory(3)],
        ...[...element(zeros, candidates, 3), ...get(zero), op.f64Store, ...memory(3)],
        ...[...element(lowests, candidates, 3), ...get(lowest), op.f64Negate, op.f64Store, ...memory(3)],
        ...advance(candidates, 1),
      ],
    ),
  ])
  return functionCode(
    [
      [2, i32],
      [4, f64],
    ],
    [
      ...loopOver(
        [...get(block), ...get(count), op.i32GreaterOrEqualUnsigned],
        [
          ...[...get(ranges), op.f64Load, ...memory(3, 0), ...set(lowest)],
          ...[...get(ranges), op.f64Load, ...memory(3, 8), ...set(highest)],
          ...when([...get(highest), ...get(lowest), op.f64NotEqual], tries),
          ...[...advance(ranges, 16), ...advance(block, 1)],
        ],
      ),
      ...get(candidates),
    ],
  )
}

/**
 * `choose(pointers, scales, zeros, lowests, results, blocks, orders, chosenScales, chosenZeros, chosenErrors,
 * chosenOrders, count, last) → next`: per candidate (results: error, refined scale and its zero point, float64),
 * the block keeps it when its error is smaller than the choice so far, or equal with an earlier order; unless `last`,
 * a refinement that is positive and differs from the scale becomes an entry of the next round's table, written
 * over this one at an index no larger than the one read. Returns the number of next entries.
 */
export function chooseCode(): number[] {
  const [pointers, scales, zeros, lowests, results] = [0, 1, 2, 3, 4]
  const [blocks, orders, chosenScales, chosenZeros, chosenErrors, chosenOrders, count, last] = [
    5, 6, 7, 8, 9, 10, 11, 12,
  ]
  const [entry, next, block, order, result] = [13, 14, 15, 16, 17]
  const [error, chosen, scale, refined] = [18, 19, 20, 21]
  const chooseThis = [
    ...[...element(chosenErrors, block, 3), ...get(error), op.f64Store, ...memory(3)],
    ...[...element(chosenOrders, block, 2), ...get(order), op.i32Store, ...memory(2)],
    ...[...element(chosenScales, block, 3), ...get(scale), op.f64Store, ...memory(3)],
    ...[...element(chosenZeros, block, 3), ...element(zeros, entry, 3), op.f64Load, ...memory(3)],
    ...[op.f64Store, ...memory(3)],
  ]
  const keepRefinement = [
    ...[...element(blocks, next, 2), ...get(block), op.i32Store, ...memory(2)],
    ...[...element(orders, next, 2), ...get(order), ...i32Const(1), op.i32Add, op.i32Store, ...memory(2)],
    ...[...element(pointers, next, 2), ...element(pointers, entry, 2), op.i32Load, ...memory(2)],
    ...[op.i32Store, ...memory(2)],
    ...[...element(scales, next, 3), ...get(refined), op.f64Store, ...memory(3)],
    ...[...element(zeros, next, 3), ...get(result), op.f64Load, ...memory(3, 16), op.f64Store, ...memory(3)],
    ...[...element(lowests, next, 3), ...element(lowests, entry, 3), op.f64Load, ...memory(3)],
    ...[op.f64Store, ...memory(3)],
    ...advance(next, 1),
  ]
  return functionCode(
    [
      [5, i32],
      [4, f64],
    ],
    [
      ...loopOver(
        [...get(entry), ...get(count), op.i32GreaterOrEqualUnsigned],
        [
          ...[...get(results), ...get(entry), ...i32Const(24), op.i32Mul, op.i32Add, ...set(result)],
          ...[...element(blocks, entry, 2), op.i32Load, ...memory(2), ...set(block)],
          ...[...element(orders, entry, 2), op.i32Load, ...memory(2), ...set(order)],
          ...[...element(scales, entry, 3), op.f64Load, ...memory(3), ...set(scale)],
          ...[...get(result), op.f64Load, ...memory(3, 0), ...set(error)],
          ...[...element(chosenErrors, block, 3), op.f64Load, ...memory(3), ...set(chosen)],
          // error < chosen, or error = chosen and order < the choice's order
          ...when(
            [
              ...[...get(error), ...get(chosen), op.f64Less, ...get(error), ...get(chosen), op.f64Equal],
              ...[...get(order), ...element(chosenOrders, block, 2), op.i32Load, ...memory(2)],
              ...[op.i32LessSigned, op.i32And, op.i32Or],
            ],
            chooseThis,
          ),
          ...[...get(result), op.f64Load, ...memory(3, 8), ...set(refined)],
          // not the last round, refined ≠ scale and refined > 0 (false for NaN)
          ...when(
            [
              ...[...get(last), op.i32Eqz, ...get(refined), ...get(scale), op.f64NotEqual, op.i32And],
              ...[...get(refined), ...f64Const(0), op.f64Greater, op.i32And],
            ],
            keepRefinement,
          ),
          ...advance(entry, 1),
        ],
      ),
      ...get(next),
    ],
  )
}
