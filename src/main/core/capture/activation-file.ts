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

/** Read an activation set written by {@link writeActivationSet}; a damaged file gives a TillerError naming it. */
export async function readActivationSet(path: string): Promise<ActivationSet> {
  const bytes = await readFile(path)
  const corrupt = (problem: string) =>
    new TillerError('file-corrupt', `Activation file ${path} ${problem}; delete it to capture again.`, {
      subject: path,
    })
  if (bytes.length < 8) throw corrupt('is truncated')
  const headerLength = Number(bytes.readBigUInt64LE(0))
  if (8 + headerLength > bytes.length) throw corrupt('is truncated')
  let header: Header
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Header
  } catch {
    throw corrupt('has an unreadable header')
  }
  const metadata = header.__metadata__ as Record<string, string> | undefined
  if (metadata?.format !== format || metadata.version !== version || metadata.set === undefined) {
    throw corrupt(`is not a ${format} v${version} file`)
  }
  const rest = JSON.parse(metadata.set) as Omit<ActivationSet, 'positive' | 'negative'>
  const base = 8 + headerLength
  const matrix = (name: string): Float32Array => {
    const entry = header[name] as { dtype: string; data_offsets: [number, number] } | undefined
    if (entry?.dtype !== 'F32') throw corrupt(`lacks tensor ${name}`)
    const [start, end] = entry.data_offsets
    if (base + end > bytes.length || end - start !== rest.rows * rest.width * 4)
      throw corrupt(`has a damaged tensor ${name}`)
    return new Float32Array(
      bytes.buffer.slice(bytes.byteOffset + base + start, bytes.byteOffset + base + end),
    )
  }
  return {
    ...rest,
    positive: rest.layers.map((layer) => matrix(`positive.${layer}`)),
    negative: rest.layers.map((layer) => matrix(`negative.${layer}`)),
  }
}
