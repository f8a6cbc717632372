import type { ExternalDataWriter } from '../../onnx/external-data.ts'
import { setExternalData } from '../../onnx/external-data.ts'
import type { TensorProto } from '../../onnx/proto.ts'
import type { WeightTensor } from '../checkpoint.ts'

/**
 * Where the initializers of one source weight go while the weight arrives a band of rows at a time (weight-pass.ts):
 * `rows` takes each band in order (`firstRow` is its first row in the whole weight), `finish` writes what is left.
 * A sink whose bands need a block kernel run may offer `prepare`: it starts the run (on worker threads) and resolves
 * to the function that writes the band, which the caller then calls in band order instead of `rows`.
 */
export interface RowSink {
  prepare?(tensor: WeightTensor): Promise<(firstRow: number) => void>
  rows(tensor: WeightTensor, firstRow: number): void
  finish(): void
}

/**
 * The function that writes `tensor` to `sink`: the one its `prepare` resolves to, or `rows` on the band. These are
 * module functions rather than closures inside `openWeight`, so that a band every sink prepared is not kept while
 * it waits to be written, only what the sinks made of it.
 */
function bandWriter(sink: RowSink, tensor: WeightTensor): Promise<(firstRow: number) => void> {
  return sink.prepare?.(tensor) ?? Promise.resolve((firstRow) => sink.rows(tensor, firstRow))
}

function inOrder(writers: Array<(firstRow: number) => void>): (firstRow: number) => void {
  return (firstRow) => writers.forEach((write) => write(firstRow))
}

/** A source weight being written band by band (`WeightStore.open`). */
export interface OpenWeight {
  prepare(tensor: WeightTensor): Promise<(firstRow: number) => void>
  finish(): void
}

/** A source weight's `sinks` as an OpenWeight: every sink's writer of a band prepared together, run in order. */
export function openWeight(sinks: RowSink[]): OpenWeight {
  return {
    prepare: async (tensor) => inOrder(await Promise.all(sinks.map((sink) => bandWriter(sink, tensor)))),
    finish: () => sinks.forEach((sink) => sink.finish()),
  }
}

/**
 * The bytes of one initializer of `byteLength` bytes that arrive in order, in pieces. `direct`: appended to the
 * data file as they come (only one initializer of the data file may be arriving at a time); otherwise gathered
 * and appended at `finish`, so that initializers keep the order in which they were declared. Either way the file
 * holds the same bytes at the same offsets as one append of the whole.
 */
export class InitializerBytes {
  private readonly data: ExternalDataWriter
  private readonly initializer: TensorProto
  private readonly byteLength: number
  private readonly direct: boolean
  // Started by the first piece, not when the sink opens: a pipelined export opens the next weight's sinks while
  // this one's last bands are still being written (weight-pass.ts).
  private piece: ReturnType<ExternalDataWriter['appendInPieces']> | undefined
  private readonly gathered: Uint8Array | undefined
  private written = 0

  constructor(data: ExternalDataWriter, initializer: TensorProto, byteLength: number, direct: boolean) {
    this.data = data
    this.initializer = initializer
    this.byteLength = byteLength
    this.direct = direct
    this.gathered = direct ? undefined : new Uint8Array(byteLength)
  }

  add(bytes: Uint8Array): void {
    if (this.direct) {
      this.piece ??= this.data.appendInPieces(this.byteLength)
      this.piece.write(bytes)
    } else this.gathered?.set(bytes, this.written)
    this.written += bytes.byteLength
  }

  finish(): void {
    if (this.written !== this.byteLength) {
      throw new Error(`${this.initializer.name}: ${this.written} of ${this.byteLength} bytes arrived.`)
    }
    if (this.direct) this.piece ??= this.data.appendInPieces(this.byteLength)
    setExternalData(
      this.initializer,
      this.piece === undefined ? this.data.append(this.gathered as Uint8Array) : this.piece.info,
    )
  }
}

/** `pieces` one after another in one array of their type. */
export function concatenated<T extends Uint8Array | Float32Array>(pieces: T[]): T {
  if (pieces.length === 1) return pieces[0] as T
  const length = pieces.reduce((sum, piece) => sum + piece.length, 0)
  const first = pieces[0]
  const result = (first instanceof Float32Array ? new Float32Array(length) : new Uint8Array(length)) as T
  let at = 0
  for (const piece of pieces) {
    result.set(piece, at)
    at += piece.length
  }
  return result
}
