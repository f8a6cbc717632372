/**
 * Instruction runs the fitted-zero-point kernels (fit-kernel-module.ts, fit-search-code.ts) share: loops, pointer
 * steps, conditionals, the 0..15 clamp and keeping an extreme, each as the bytes of its WebAssembly instructions.
 */
import {
  f64Const,
  i32Const,
  localGet as get,
  localSet as set,
  localTee as tee,
  memory,
  op,
} from '../../wasm/encoding.ts'

/** Bytes of a block of 32 float32 values. */
export const blockBytes = 128
/** The highest quant of 4 bits. */
export const top = 15

/** block … loop …: `exit` leaves both (branch depth 1 from inside the loop), `again` restarts the loop. */
export function loopOver(exitWhen: number[], body: number[]): number[] {
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

/** An inner loop over the 32 float32 values at local `at` (advanced by `step` bytes each time, stops at `stop`). */
export function overValues(at: number, stop: number, body: number[], step = 4): number[] {
  return [
    ...[...get(at), ...i32Const(blockBytes), op.i32Add, ...set(stop)],
    op.loop,
    op.emptyBlockType,
    ...body,
    ...[
      ...get(at),
      ...i32Const(step),
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
export const loadValue = (at: number, offset = 0): number[] => [
  ...get(at),
  op.f32Load,
  ...memory(2, offset),
  op.f64PromoteF32,
]

/** local += bytes (i32; a negative step counts down). */
export const advance = (local: number, bytes: number): number[] => [
  ...get(local),
  ...i32Const(bytes),
  op.i32Add,
  ...set(local),
]

/** extreme = candidate ⋚ extreme ? candidate : extreme (float64; `compare` is f64.lt or f64.gt). */
export const keepExtreme = (candidate: number, extreme: number, compare: number): number[] => [
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

/** `if (condition) body` with no result. */
export function when(condition: number[], body: number[]): number[] {
  return [...condition, op.if, op.emptyBlockType, ...body, op.end]
}

/**
 * x < 0 ? 0 : x > 15 ? 15 : x for the float64 on the stack (JavaScript's clamp of a zero point, which keeps −0),
 * with float64 local `scratch` to hold it.
 */
export function clampToLevels(scratch: number): number[] {
  return [
    ...[...set(scratch), ...f64Const(0), ...get(scratch), ...get(scratch), ...f64Const(0), op.f64Less],
    ...[op.select, ...set(scratch), ...f64Const(top), ...get(scratch), ...get(scratch), ...f64Const(top)],
    ...[op.f64Greater, op.select],
  ]
}
