import { readFile } from 'node:fs/promises'
import { TillerError } from '../errors.ts'
import type { NeutralActivations } from '../methods/method.ts'
import { writeFileAtomicCreatingFolder } from '../workspace/atomic-write.ts'

/**
 * Neutral activations on disk: one `.safetensors` file with F32 tensors `neutral.{layer}` `[rows, width]` and
 * `__metadata__` holding `format: "tiller-neutral"`, `version` and `set` (site, layers, width, rows as JSON).
 * Written atomically, its folder created.
 */

const format = 'tiller-neutral'
const version = '1'

type Header = Record<
  string,
  { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>
>

/** Write `set` to `path` atomically. */
export async function writeNeutralActivations(path: string, set: NeutralActivations): Promise<void> {
  const { values, ...rest } = set
  const header: Header = { __metadata__: { format, version, set: JSON.stringify(rest) } }
  let offset = 0
  set.layers.forEach((layer, index) => {
    const bytes = (values[index] as Float32Array).byteLength
    header[`neutral.${layer}`] = {
      dtype: 'F32',
      shape: [set.rows, set.width],
      data_offsets: [offset, offset + bytes],
    }
    offset += bytes
  })
  let headerText = JSON.stringify(header)
  headerText += ' '.repeat((8 - (headerText.length % 8)) % 8)
  const headerBytes = Buffer.from(headerText, 'utf8')
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(BigInt(headerBytes.length))
  const body = values.map((matrix) => Buffer.from(matrix.buffer, matrix.byteOffset, matrix.byteLength))
  await writeFileAtomicCreatingFolder(path, [prefix, headerBytes, ...body])
}

/** Read a file written by {@link writeNeutralActivations}; a damaged file gives a TillerError naming it. */
export async function readNeutralActivations(path: string): Promise<NeutralActivations> {
  const bytes = await readFile(path)
  const corrupt = (problem: string) =>
    new TillerError(
      'file-corrupt',
      `Neutral activation file ${path} ${problem}; delete it to capture again.`,
      {
        subject: path,
      },
    )
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
  const rest = JSON.parse(metadata.set) as Omit<NeutralActivations, 'values'>
  const base = 8 + headerLength
  const values = rest.layers.map((layer) => {
    const entry = header[`neutral.${layer}`] as { dtype: string; data_offsets: [number, number] } | undefined
    if (entry?.dtype !== 'F32') throw corrupt(`lacks tensor neutral.${layer}`)
    const [start, end] = entry.data_offsets
    if (base + end > bytes.length || end - start !== rest.rows * rest.width * 4)
      throw corrupt(`has a damaged tensor neutral.${layer}`)
    return new Float32Array(
      bytes.buffer.slice(bytes.byteOffset + base + start, bytes.byteOffset + base + end),
    )
  })
  return { ...rest, values }
}
