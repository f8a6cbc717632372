import type { ExternalDataWriter } from '../../onnx/external-data.ts'
import { setExternalData } from '../../onnx/external-data.ts'
import type { TensorProto } from '../../onnx/proto.ts'
import type { WeightTensor } from '../checkpoint.ts'

/**
 * Where the initializers of one source weight go while the weight arrives a band of rows at a time (weight-pass.ts):
 * `rows` takes each band in order (`firstRow` is its first row in the whole weight), `finish` writes what is left.
 */
export interface RowSink {
  rows(tensor: WeightTensor, firstRow: number): void
  finish(): void
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
  private readonly piece: ReturnType<ExternalDataWriter['appendInPieces']> | undefined
  private readonly gathered: Uint8Array | undefined
  private written = 0

  constructor(data: ExternalDataWriter, initializer: TensorProto, byteLength: number, direct: boolean) {
    this.data = data
    this.initializer = initializer
    this.byteLength = byteLength
    this.piece = direct ? data.appendInPieces(byteLength) : undefined
    this.gathered = direct ? undefined : new Uint8Array(byteLength)
  }

  add(bytes: Uint8Array): void {
    if (this.piece !== undefined) this.piece.write(bytes)
    else this.gathered?.set(bytes, this.written)
    this.written += bytes.byteLength
  }

  finish(): void {
    if (this.written !== this.byteLength) {
      throw new Error(`${this.initializer.name}: ${this.written} of ${this.byteLength} bytes arrived.`)
    }
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
