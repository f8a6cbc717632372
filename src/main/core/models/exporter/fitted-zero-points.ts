import { runBlockKernel, type BlockRunOptions, type KernelResult } from './block-workers.ts'

/**
 * 4-bit blocks of 32 with integer zero points fitted to float values: what a q4 export with int8 compute writes for
 * blocks with offsets (GGUF Q4_1, Q5_1, Q4_K, Q5_K: value = s·q + o), whose exact form needs a float zero point
 * −o/s that ONNX Runtime's int8 MatMulNBits kernel does not take.
 *
 * A block of values x is written as x ≈ scale · (q − zero) with q and zero integers in 0..15 (weight[k] =
 * scales[b] · (quant[k] − zeroPoint[b]), quantize-blocks.ts). Rounding −o/s to an integer moves the whole block
 * by up to half a step, one error shared by all 32 weights; instead each block's scale and zero point are searched
 * to minimise its squared error, in the manner of llama.cpp's make_qkx quantizers (written independently): the grid
 * always holds 0 (q = zero), so it spans [min(x, 0), max(x, 0)]; that range is tried over 14, 14.5, 15, 15.5 and 16
 * steps, and each try is refined twice by the least-squares scale of its quants (Σ x·k / Σ k², k = q − zero). The
 * try with the smallest squared error is kept. A try's quants and sums are float32 arithmetic (four lanes of SIMD
 * per value, block-kernels.ts fitBlocks defines the order), twice as fast as float64 in the WebAssembly kernel; the
 * fit's version in the weights hash (`q4-fitted/2`) names this definition. A block already of the form
 * scale · (q − zero) over the whole range (16 levels present) is found exactly; an all-zero block is written as zeros.
 *
 * The search itself is block-kernels.ts fitBlocks, run in chunks on worker threads beside this one
 * (block-workers.ts); the result is the same with any number of workers.
 */

/** Quants, scales and zero points of a fitted weight, with its differences to the float values. */
export type FittedQuants = KernelResult

/** Float values `[rows · columns]` (columns a multiple of 32) as 4-bit blocks of 32 with fitted zero points. */
export function fitZeroPoints(values: Float32Array, options: BlockRunOptions = {}): FittedQuants {
  return runBlockKernel('fit', values, 15, options)
}
