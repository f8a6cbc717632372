import { closeSync, existsSync, openSync, readSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, normalize, sep } from 'node:path'
import { TillerError } from '../errors.ts'
import { AtomicFileWriter, writeFileAtomic } from '../workspace/atomic-write.ts'
import { readUserFile } from '../workspace/read-file.ts'
import {
  decodeModel,
  elementTypeName,
  encodeModel,
  onnx,
  TensorElementType,
  type ElementTypeName,
  type ModelProto,
  type TensorProto,
} from './proto.ts'
import {
  embeddedTensorBytes,
  isExternal,
  tensorByteLength,
  valuesFromBytes,
  type TensorValues,
} from './tensor.ts'

/**
 * External tensor data: weights live in a separate file next to the graph, referenced by relative `location`
 * plus `offset`/`length`. Tiller never rewrites a weights file: edited graphs are saved next to the data they
 * reference (RUNTIME-NOTES §2.7, §3.2).
 *
 * NOTE: onnxruntime-node 1.30 resolves symlinks before checking that a data file lies inside the graph's
 * directory, so a symlinked data file pointing elsewhere is refused at session creation.
 */

/** Where an external tensor's bytes are: a path relative to the graph's directory, a byte offset and length. */
export interface ExternalDataInfo {
  location: string
  offset: number
  length: number
}

/** A model decoded from a file, with the directory its external data locations are relative to. */
export interface LoadedModel {
  model: ModelProto
  path: string
  directory: string
}

// Tensors of 1 MiB and more start on a page boundary so ORT can map them; smaller ones on 64 bytes.
const pageAlignment = 4096
const pageAlignmentThreshold = 1 << 20
const smallAlignment = 64

/** The external data entries of a tensor (throws for embedded tensors and malformed entries). */
export function externalDataInfo(tensor: TensorProto): ExternalDataInfo {
  const entries = new Map(tensor.externalData.map((entry) => [entry.key ?? '', entry.value ?? '']))
  const location = entries.get('location')
  if (!isExternal(tensor) || location === undefined || location === '') {
    throw new TillerError('file-corrupt', `Tensor ${tensor.name} has no external data location.`, {
      subject: tensor.name,
    })
  }
  const offset = Number(entries.get('offset') ?? '0')
  const length = entries.has('length') ? Number(entries.get('length')) : tensorByteLength(tensor)
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new TillerError('file-corrupt', `Tensor ${tensor.name} has an invalid external offset/length.`, {
      subject: tensor.name,
    })
  }
  return { location, offset, length }
}

/** Point a tensor at external bytes (drops any embedded data). */
export function setExternalData(tensor: TensorProto, info: ExternalDataInfo): void {
  tensor.rawData = new Uint8Array(0)
  tensor.floatData = []
  tensor.int32Data = []
  tensor.int64Data = []
  tensor.doubleData = []
  tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL
  tensor.externalData = [
    { key: 'location', value: info.location },
    { key: 'offset', value: String(info.offset) },
    { key: 'length', value: String(info.length) },
  ]
}

/** A tensor proto whose data is already in an external file (dims and element type given here). */
export function externalTensor(
  name: string,
  type: ElementTypeName,
  dims: readonly number[],
  info: ExternalDataInfo,
): TensorProto {
  const tensor = onnx.TensorProto.create({
    name,
    dataType: TensorElementType[type],
    dims: [...dims],
  }) as TensorProto
  setExternalData(tensor, info)
  return tensor
}

/**
 * Resolve an external data location against the graph directory. Locations must be relative and stay inside
 * the directory (ORT refuses anything else).
 */
export function resolveLocation(directory: string, location: string): string {
  const normalized = normalize(location)
  if (isAbsolute(normalized) || normalized === '..' || normalized.startsWith(`..${sep}`)) {
    throw new TillerError(
      'file-corrupt',
      `External data location "${location}" must be a relative path inside ${directory}.`,
      { subject: location },
    )
  }
  return join(directory, normalized)
}

/**
 * Appends tensor bytes to one external data file, aligned. Writes go to a temporary file; `commit()` fsyncs
 * and renames it into place, `abort()` deletes it. Use it to stream large weights without holding them all.
 */
export class ExternalDataWriter {
  readonly path: string
  readonly location: string
  private readonly file: AtomicFileWriter
  private position = 0

  /** `directory` is the graph's directory; `location` the data file name relative to it. */
  constructor(directory: string, location: string) {
    this.location = location
    this.path = resolveLocation(directory, location)
    this.file = new AtomicFileWriter(this.path)
  }

  /** Bytes written to the data file so far, padding included. */
  get writtenBytes(): number {
    return this.position
  }

  /** Append bytes (padded to the alignment first) and return where they landed. */
  append(bytes: Uint8Array): ExternalDataInfo {
    const piece = this.appendInPieces(bytes.byteLength)
    piece.write(bytes)
    return piece.info
  }

  /**
   * Start appending `byteLength` bytes that arrive in pieces (a tensor written a few rows at a time): aligned as
   * `append` aligns them, then each `write` continues where the last stopped. Nothing else may be appended until
   * all `byteLength` bytes are written.
   */
  appendInPieces(byteLength: number): { info: ExternalDataInfo; write: (bytes: Uint8Array) => void } {
    if (this.file.closed) throw new TillerError('internal', `${this.path} is already closed.`)
    const alignment = byteLength >= pageAlignmentThreshold ? pageAlignment : smallAlignment
    const padding = (alignment - (this.position % alignment)) % alignment
    if (padding > 0) this.file.write(new Uint8Array(padding), this.position)
    const offset = this.position + padding
    this.position = offset
    const end = offset + byteLength
    const write = (bytes: Uint8Array): void => {
      if (this.position + bytes.byteLength > end) {
        throw new TillerError(
          'internal',
          `${this.path}: more bytes written than the ${byteLength} announced.`,
        )
      }
      this.file.write(bytes, this.position)
      this.position += bytes.byteLength
    }
    return { info: { location: this.location, offset, length: byteLength }, write }
  }

  /** Append a tensor's embedded bytes and turn it into an external tensor pointing at them. */
  externalize(tensor: TensorProto): void {
    setExternalData(tensor, this.append(embeddedTensorBytes(tensor)))
  }

  /** Flush, close and move the data file into place. */
  commit(): void {
    this.file.commit()
  }

  /** Close and delete the temporary file (after a failure). */
  abort(): void {
    this.file.abort()
  }
}

/** Decode a `.onnx` file. External data stays on disk; read it with `readTensorBytes` when needed. */
export async function loadModel(path: string): Promise<LoadedModel> {
  const bytes = await readUserFile(path, 'ONNX model')
  return { model: decodeModel(bytes, path), path, directory: dirname(path) }
}

/** Read the bytes of an external tensor from its data file (offset/length), checking the file is long enough. */
export function readExternalTensorBytes(directory: string, tensor: TensorProto): Uint8Array {
  const info = externalDataInfo(tensor)
  const path = resolveLocation(directory, info.location)
  let descriptor: number
  try {
    descriptor = openSync(path, 'r')
  } catch (error) {
    throw new TillerError(
      'file-not-found',
      `External data file ${path} (for tensor ${tensor.name}) is missing.`,
      {
        subject: path,
        cause: error,
      },
    )
  }
  try {
    const bytes = new Uint8Array(info.length)
    let read = 0
    while (read < info.length) {
      const count = readSync(descriptor, bytes, read, info.length - read, info.offset + read)
      if (count === 0) {
        throw new TillerError(
          'file-corrupt',
          `External data file ${path} ends before tensor ${tensor.name} (needs bytes ${info.offset}..${info.offset + info.length}).`,
          { subject: path },
        )
      }
      read += count
    }
    return bytes
  } finally {
    closeSync(descriptor)
  }
}

/** The bytes of any initializer: embedded, or read from its external file relative to `directory`. */
export function readTensorBytes(directory: string, tensor: TensorProto): Uint8Array {
  return isExternal(tensor) ? readExternalTensorBytes(directory, tensor) : embeddedTensorBytes(tensor)
}

/** The values of any initializer as a typed array of its element type (float16 as Uint16Array bits). */
export function readTensorValues(directory: string, tensor: TensorProto): TensorValues {
  return valuesFromBytes(elementTypeName(tensor.dataType), readTensorBytes(directory, tensor))
}

/** Pull every external initializer's bytes into the model (for small models in tests and validation). */
export function embedExternalData(loaded: LoadedModel): void {
  for (const tensor of loaded.model.graph.initializer) {
    if (!isExternal(tensor)) continue
    const bytes = readExternalTensorBytes(loaded.directory, tensor)
    tensor.externalData = []
    tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT
    tensor.rawData = bytes
  }
}

/** Check that every external location the model references exists relative to `directory`. */
export function checkExternalReferences(model: ModelProto, directory: string): void {
  for (const tensor of model.graph.initializer) {
    if (!isExternal(tensor)) continue
    const path = resolveLocation(directory, externalDataInfo(tensor).location)
    if (!existsSync(path)) {
      throw new TillerError(
        'file-not-found',
        `Tensor ${tensor.name} references ${path}, which does not exist. Save edited graphs in the directory of the original model so its data file resolves.`,
        { subject: path },
      )
    }
  }
}

/**
 * Save a graph atomically (temporary file, fsync, rename). External references are resolved relative to the new
 * file's directory and must exist there: save edited graphs next to the original data file, which stays as is.
 */
export async function saveModel(model: ModelProto, path: string): Promise<void> {
  checkExternalReferences(model, dirname(path))
  await writeFileAtomic(path, encodeModel(model))
}

/**
 * Save a model, moving every embedded initializer of at least `thresholdBytes` into one external data file
 * (default `<graph file name>_data`, the Transformers.js name) next to it. Mutates the model's tensors to point
 * at the new file.
 */
export async function saveModelWithExternalData(
  model: ModelProto,
  path: string,
  options: { location?: string; thresholdBytes?: number } = {},
): Promise<void> {
  const location = options.location ?? `${basename(path)}_data`
  const threshold = options.thresholdBytes ?? 1024
  const writer = new ExternalDataWriter(dirname(path), location)
  try {
    for (const tensor of model.graph.initializer) {
      if (!isExternal(tensor) && tensorByteLength(tensor) >= threshold) writer.externalize(tensor)
    }
    writer.commit()
  } catch (error) {
    writer.abort()
    throw error
  }
  await saveModel(model, path)
}
