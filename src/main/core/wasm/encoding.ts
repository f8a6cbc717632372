/**
 * The few pieces of the WebAssembly binary format that Tiller's hand-assembled kernels use (fused AdamW, the 4-bit
 * block fit): LEB128 numbers, sections, names, value types and the opcodes of the instructions they contain. No
 * toolchain builds these kernels, so their bytes are written by the TypeScript that documents them.
 */

/** Unsigned LEB128, the encoding of every size and index in a WebAssembly binary. */
export function leb(value: number): number[] {
  const bytes: number[] = []
  let rest = value
  do {
    const low = rest & 0x7f
    rest = Math.floor(rest / 128)
    bytes.push(rest === 0 ? low : low | 0x80)
  } while (rest !== 0)
  return bytes
}

export function section(id: number, contents: number[]): number[] {
  return [id, ...leb(contents.length), ...contents]
}

export function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)]
  return [...leb(bytes.length), ...bytes]
}

/** The magic number and version 1 that open every module. */
export const moduleHeader = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]

export const sectionId = { type: 1, import: 2, function: 3, memory: 5, export: 7, code: 10 } as const

export const valueType = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const

/** A function's code entry: its size, its locals as [count, type] runs, its instructions and `end`. */
export function functionCode(locals: Array<readonly [number, number]>, instructions: number[]): number[] {
  const body = [...leb(locals.length), ...locals.flat(), ...instructions, op.end]
  return [...leb(body.length), ...body]
}

/** Scalar instructions. */
export const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  f32Load: 0x2a,
  f64Load: 0x2b,
  i32Store: 0x36,
  f64Store: 0x39,
  i32Store8: 0x3a,
  i32Const: 0x41,
  f32Const: 0x43,
  f64Const: 0x44,
  i32Eqz: 0x45,
  i32LessSigned: 0x48,
  i32LessUnsigned: 0x49,
  i32GreaterOrEqualUnsigned: 0x4f,
  f32Greater: 0x5e,
  f64Equal: 0x61,
  f64NotEqual: 0x62,
  f64Less: 0x63,
  f64Greater: 0x64,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  i32ShiftLeft: 0x74,
  f32Div: 0x95,
  f64Negate: 0x9a,
  f64Floor: 0x9c,
  f64Add: 0xa0,
  f64Sub: 0xa1,
  f64Div: 0xa3,
  i32TruncateF64Unsigned: 0xab,
  f32DemoteF64: 0xb6,
  f64ConvertI32Unsigned: 0xb8,
  f64PromoteF32: 0xbb,
  emptyBlockType: 0x40,
} as const

/** A SIMD instruction: the 0xfd prefix, then its LEB128 number. */
function simdOp(code: number): number[] {
  return [0xfd, ...leb(code)]
}

/** SIMD instructions on 128-bit values (lanes: f32x4, f64x2). */
export const simd = {
  load: simdOp(0x00),
  store: simdOp(0x0b),
  f32x4Splat: simdOp(0x13),
  f64x2Splat: simdOp(0x14),
  /** Followed by the lane index. */
  f64x2ReplaceLane: simdOp(0x22),
  f32x4DemoteF64x2Zero: simdOp(0x5e),
  f64x2PromoteLowF32x4: simdOp(0x5f),
  /** Followed by the lane index. */
  f32x4ReplaceLane: simdOp(0x20),
  /** Followed by the lane index. */
  f64x2ExtractLane: simdOp(0x21),
  f64x2Abs: simdOp(0xec),
  /** Followed by 16 lane indices into the bytes of a (0–15) and b (16–31). */
  shuffle: simdOp(0x0d),
  /** Followed by the lane index. */
  f32x4ExtractLane: simdOp(0x1f),
  f32x4Floor: simdOp(0x68),
  /** b < a ? b : a per lane. */
  f32x4PseudoMin: simdOp(0xea),
  /** a < b ? b : a per lane. */
  f32x4PseudoMax: simdOp(0xeb),
  f64x2Floor: simdOp(0x75),
  f32x4Sqrt: simdOp(0xe3),
  f32x4Add: simdOp(0xe4),
  f32x4Sub: simdOp(0xe5),
  f32x4Mul: simdOp(0xe6),
  f32x4Div: simdOp(0xe7),
  f64x2Add: simdOp(0xf0),
  f64x2Sub: simdOp(0xf1),
  f64x2Mul: simdOp(0xf2),
  f64x2Div: simdOp(0xf3),
  /** b < a ? b : a, one instruction (f64x2.min also orders −0 below +0 and propagates NaN, at several). */
  f64x2PseudoMin: simdOp(0xf6),
  /** a < b ? b : a. */
  f64x2PseudoMax: simdOp(0xf7),
}

export function f32Const(value: number): number[] {
  return [op.f32Const, ...new Uint8Array(Float32Array.of(value).buffer)]
}

export function f64Const(value: number): number[] {
  return [op.f64Const, ...new Uint8Array(Float64Array.of(value).buffer)]
}

export function i32Const(value: number): number[] {
  return [op.i32Const, ...signedLeb(value)]
}

/** Signed LEB128 (i32.const's immediate). */
function signedLeb(value: number): number[] {
  const bytes: number[] = []
  let rest = value | 0
  for (;;) {
    const low = rest & 0x7f
    rest >>= 7
    const done = (rest === 0 && (low & 0x40) === 0) || (rest === -1 && (low & 0x40) !== 0)
    bytes.push(done ? low : low | 0x80)
    if (done) return bytes
  }
}

export const localGet = (index: number): number[] => [op.localGet, ...leb(index)]
export const localSet = (index: number): number[] => [op.localSet, ...leb(index)]
export const localTee = (index: number): number[] => [op.localTee, ...leb(index)]

/** Memory immediate: log2 of the alignment, then the byte offset. */
export const memory = (alignmentLog2: number, offset = 0): number[] => [alignmentLog2, ...leb(offset)]

/** The part of the WebAssembly JavaScript API Tiller uses: a Node global that Node's type library does not declare. */
export interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer; grow(pages: number): number }
  Module: new (bytes: Uint8Array) => object
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: Record<string, unknown> }
}
export const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly

export const pageBytes = 65_536
