import { TillerError } from '../errors.ts'
import {
  bytesPerElement,
  elementTypeName,
  onnx,
  TensorElementType,
  tensorDims,
  toNumber,
  type ElementTypeName,
  type TensorProto,
} from './proto.ts'

/**
 * TensorProto construction and reading. Tiller always writes tensor data as little-endian `rawData` (what ORT and
 * the Python tools write); reading also accepts the typed repeated fields some exporters use for small tensors.
 */

/** Typed arrays Tiller stores in tensors. float16 and bfloat16 travel as Uint16Array bit patterns. */
export type TensorValues =
  | Float32Array
  | Float64Array
  | Uint16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint32Array
  | BigUint64Array

const arrayTypes: Partial<Record<ElementTypeName, new (buffer: ArrayBuffer) => TensorValues>> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  uint16: Uint16Array,
  int16: Int16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  uint8: Uint8Array,
  int8: Int8Array,
  bool: Uint8Array,
}

function elementCount(dims: readonly number[]): number {
  return dims.reduce((product, dim) => product * dim, 1)
}

/** A byte view over a typed array's own elements (no copy). */
export function bytesOf(values: TensorValues): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
}

/**
 * Build a tensor proto holding `values` as raw data. The proto keeps a view of `values` (no copy), so do not
 * modify the array afterwards.
 */
export function makeTensor(
  name: string,
  type: ElementTypeName,
  dims: readonly number[],
  values: TensorValues,
): TensorProto {
  const code = TensorElementType[type]
  const expectedBytes = elementCount(dims) * bytesPerElement(code)
  if (values.byteLength !== expectedBytes) {
    throw new TillerError(
      'shape-mismatch',
      `Tensor ${name}: ${values.byteLength} bytes of data do not fill ${type} [${dims.join(', ')}] (${expectedBytes} bytes).`,
      { subject: name },
    )
  }
  return onnx.TensorProto.create({
    name,
    dataType: code,
    dims: [...dims],
    rawData: bytesOf(values),
    externalData: [],
  }) as TensorProto
}

/** A scalar or 1-D int64 constant tensor (shapes, axes, indices). `dims` defaults to [values.length]. */
export function int64Tensor(name: string, values: readonly number[], dims?: readonly number[]): TensorProto {
  return makeTensor(
    name,
    'int64',
    dims ?? [values.length],
    BigInt64Array.from(values, (value) => BigInt(value)),
  )
}

/** A float32 constant tensor. `dims` defaults to [values.length]. */
export function float32Tensor(
  name: string,
  values: readonly number[],
  dims?: readonly number[],
): TensorProto {
  return makeTensor(name, 'float32', dims ?? [values.length], Float32Array.from(values))
}

/** Whether a tensor's data lives in an external file. */
export function isExternal(tensor: TensorProto): boolean {
  return tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL
}

/** Number of bytes a fixed-size tensor's data occupies. */
export function tensorByteLength(tensor: TensorProto): number {
  return elementCount(tensorDims(tensor)) * bytesPerElement(tensor.dataType)
}

function typedFieldBytes(tensor: TensorProto): Uint8Array {
  const type = elementTypeName(tensor.dataType)
  const count = elementCount(tensorDims(tensor))
  switch (type) {
    case 'float32':
      return bytesOf(Float32Array.from(tensor.floatData ?? []))
    case 'float64':
      return bytesOf(Float64Array.from(tensor.doubleData ?? []))
    case 'int64':
      return bytesOf(BigInt64Array.from(tensor.int64Data ?? [], (value) => BigInt(toNumber(value))))
    case 'uint64':
    case 'uint32':
      return bytesOf(
        type === 'uint64'
          ? BigUint64Array.from(tensor.uint64Data ?? [], (value) => BigInt(toNumber(value)))
          : Uint32Array.from(tensor.uint64Data ?? [], toNumber),
      )
    default: {
      // int32_data carries int32, and zero-extended int8/uint8/int16/uint16/bool/float16 values.
      const ArrayType = arrayTypes[type]
      if (ArrayType === undefined) break
      const values = new ArrayType(new ArrayBuffer(count * bytesPerElement(tensor.dataType)))
      const source = tensor.int32Data ?? []
      for (let index = 0; index < count; index++) (values as Int32Array)[index] = source[index] ?? 0
      return bytesOf(values)
    }
  }
  throw new TillerError(
    'unsupported-tensor-type',
    `Tensor ${tensor.name} has unsupported element type ${type}.`,
  )
}

/**
 * The raw little-endian bytes of an embedded (non-external) tensor. External tensors are read with
 * `readExternalTensorBytes` from external-data.ts.
 */
export function embeddedTensorBytes(tensor: TensorProto): Uint8Array {
  if (isExternal(tensor)) {
    throw new TillerError(
      'internal',
      `Tensor ${tensor.name} is stored externally; read it from its data file.`,
      {
        subject: tensor.name,
      },
    )
  }
  if (tensor.rawData && tensor.rawData.byteLength > 0) return tensor.rawData
  return typedFieldBytes(tensor)
}

/**
 * Interpret raw tensor bytes as a typed array of the tensor's element type (copied, so the result is aligned
 * and independent of the source buffer). float16 comes back as Uint16Array bit patterns.
 */
export function valuesFromBytes(type: ElementTypeName, bytes: Uint8Array): TensorValues {
  const ArrayType = arrayTypes[type]
  if (ArrayType === undefined) {
    throw new TillerError('unsupported-tensor-type', `Tensor element type ${type} cannot be read as numbers.`)
  }
  const copy = new ArrayBuffer(bytes.byteLength)
  new Uint8Array(copy).set(bytes)
  return new ArrayType(copy)
}

/** The values of an embedded tensor as a typed array of its element type. */
export function tensorValues(tensor: TensorProto): TensorValues {
  return valuesFromBytes(elementTypeName(tensor.dataType), embeddedTensorBytes(tensor))
}
