import { readFile } from 'node:fs/promises'
import type { ActivationSet } from '../../../shared/activations.ts'
import { TillerError } from '../errors.ts'
import { writeFileAtomicCreatingFolder } from '../workspace/atomic-write.ts'

/**
 * Activation sets on disk: one `.safetensors` file with F32 tensors `positive.{layer}` / `negative.{layer}`
 * `[rows, width]`, and `__metadata__` holding `format: "tiller-activations"`, `version` and `set` (a JSON string
 * with everything but the matrices: site, selector, layers, width, rows, rowsPerPair, example ids, data hash,
 * model fingerprint). Written atomically (temporary file, fsync, rename), its folder created.
 */

const format = 'tiller-activations'
const version = '1'

type Header = Record<
  string,
  { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>
>

/** Write `set` to `path` atomically. */
export async function writeActivationSet(path: string, set: ActivationSet): Promise<void> {
  const { positive, negative, ...rest } = set
  const tensors: Array<[string, Float32Array]> = []
  set.layers.forEach((layer, index) => {
    tensors.push([`positive.${layer}`, positive[index] ?? new Float32Array(0)])
    tensors.push([`negative.${layer}`, negative[index] ?? new Float32Array(0)])
  })
  const header: Header = { __metadata__: { format, version, set: JSON.stringify(rest) } }
  let offset = 0
  for (const [name, values] of tensors) {
    header[name] = {
      dtype: 'F32',
      shape: [set.rows, set.width],
      data_offsets: [offset, offset + values.byteLength],
    }
    offset += values.byteLength
  }
  let headerText = JSON.stringify(header)
  headerText += ' '.repeat((8 - (headerText.length % 8)) % 8)
  const headerBytes = Buffer.from(headerText, 'utf8')
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(BigInt(headerBytes.length))
  const body = tensors.map(([, values]) => Buffer.from(values.buffer, values.byteOffset, values.byteLength))
  await writeFileAtomicCreatingFolder(path, [prefix, headerBytes, ...body])
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

/**
 * Read an activation set written by {@link writeActivationSet}. Anything that is not such a file (truncated,
 * overwritten, a header or description of the wrong shape) gives TillerError('file-corrupt') naming it, never a
 * raw parse error, so the capture cache can treat it as a miss.
 */
export async function readActivationSet(path: string): Promise<ActivationSet> {
  const bytes = await readFile(path)
  const corrupt = (problem: string) =>
    new TillerError('file-corrupt', `Activation file ${path} ${problem}; delete it to capture again.`, {
      subject: path,
    })
  if (bytes.length < 8) throw corrupt('is truncated')
  const headerLength = bytes.readBigUInt64LE(0)
  if (8n + headerLength > BigInt(bytes.length)) throw corrupt('is truncated')
  const base = 8 + Number(headerLength)
  let header: unknown
  let rest: unknown
  try {
    header = JSON.parse(bytes.subarray(8, base).toString('utf8'))
    const metadata = isRecord(header) ? header['__metadata__'] : undefined
    if (!isRecord(metadata) || metadata['format'] !== format || metadata['version'] !== version) {
      throw corrupt(`is not a ${format} v${version} file`)
    }
    rest = JSON.parse(String(metadata['set']))
  } catch (error) {
    if (error instanceof TillerError) throw error
    throw corrupt('has an unreadable header')
  }
  if (
    !isRecord(header) ||
    !isRecord(rest) ||
    !Array.isArray(rest['layers']) ||
    !rest['layers'].every(isCount) ||
    !isCount(rest['rows']) ||
    !isCount(rest['width'])
  ) {
    throw corrupt('has an unreadable description of its activations')
  }
  const description = rest as Omit<ActivationSet, 'positive' | 'negative'>
  const matrixBytes = description.rows * description.width * 4
  const matrix = (name: string): Float32Array => {
    const entry = header[name]
    if (!isRecord(entry) || entry['dtype'] !== 'F32') throw corrupt(`lacks tensor ${name}`)
    const offsets = entry['data_offsets']
    const [start, end] = Array.isArray(offsets) ? (offsets as unknown[]) : []
    if (
      !isCount(start) ||
      !isCount(end) ||
      base + end > bytes.length ||
      end - start !== matrixBytes ||
      start % 4 !== 0
    ) {
      throw corrupt(`has a damaged tensor ${name}`)
    }
    return new Float32Array(
      bytes.buffer.slice(bytes.byteOffset + base + start, bytes.byteOffset + base + end),
    )
  }
  return {
    ...description,
    positive: description.layers.map((layer) => matrix(`positive.${layer}`)),
    negative: description.layers.map((layer) => matrix(`negative.${layer}`)),
  }
}
