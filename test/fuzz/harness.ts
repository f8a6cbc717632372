import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { isTillerError } from '../../src/main/core/errors.ts'
import { Random, caseSeed, mutateBytes, mutateJsonText, type MutationFocus } from './mutator.ts'

/**
 * Runs one fuzz case. A case passes when the reader returns or throws a TillerError; any other exception, a hang
 * (no answer within a generous limit, only there to catch hangs) or resident memory growing by more than a limit
 * is a finding. Cases run inside a worker thread (isolated.ts), which is terminated on a hang that never yields.
 */

/** How a format's valid inputs are damaged. */
export type Structure = 'bytes' | 'json' | 'jsonl' | 'safetensors'

/** One format's valid seeds and the reader under test. */
export interface FuzzTarget {
  /** Valid inputs built with Tiller's own writers. */
  seeds: readonly Uint8Array[]
  structure: Structure
  /** Per seed, where byte mutations should land (default: anywhere). */
  focus?: readonly MutationFocus[]
  /** Read `bytes` (seed `seedIndex` damaged) in a fresh folder; resolves or throws. */
  read(bytes: Uint8Array, seedIndex: number, folder: string): Promise<unknown>
  dispose?(): Promise<void>
}

export interface FuzzFormat {
  name: string
  prepare(): Promise<FuzzTarget>
}

export interface Finding {
  format: string
  seed: number
  caseIndex: number
  kind: 'exception' | 'hang' | 'memory'
  message: string
}

/** What one case came to: the reader returned, refused with a TillerError, or a finding. */
export type CaseResult = { outcome: 'parsed' | 'refused' } | { outcome: 'finding'; finding: Finding }

/** A run's findings and how many cases parsed or were refused, so a run whose seeds never parse shows up. */
export interface FuzzSummary {
  findings: Finding[]
  parsed: number
  refused: number
}

export interface GuardLimits {
  /** Only to catch hangs; generous so a loaded machine never trips it. */
  hangMilliseconds: number
  memoryGrowthBytes: number
}

export const defaultGuardLimits: GuardLimits = { hangMilliseconds: 60_000, memoryGrowthBytes: 1024 ** 3 }

function safetensorsParts(bytes: Uint8Array): { header: string; body: Uint8Array } | undefined {
  if (bytes.length < 8) return undefined
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true))
  if (8 + length > bytes.length) return undefined
  return { header: new TextDecoder().decode(bytes.subarray(8, 8 + length)), body: bytes.subarray(8 + length) }
}

function packSafetensors(header: string, body: Uint8Array): Uint8Array {
  const headerBytes = new TextEncoder().encode(header)
  const result = new Uint8Array(8 + headerBytes.length + body.length)
  new DataView(result.buffer).setBigUint64(0, BigInt(headerBytes.length), true)
  result.set(headerBytes, 8)
  result.set(body, 8 + headerBytes.length)
  return result
}

/** The damaged input of one case: structural damage where the format has structure, else byte damage. */
export function mutateInput(target: FuzzTarget, random: Random): { bytes: Uint8Array; seedIndex: number } {
  const seedIndex = random.below(target.seeds.length)
  const seed = target.seeds[seedIndex] as Uint8Array
  const focus = target.focus?.[seedIndex]
  const structural = random.chance(0.5)
  if (structural && target.structure === 'json') {
    const text = mutateJsonText(new TextDecoder().decode(seed), random)
    if (text !== undefined) return { bytes: new TextEncoder().encode(text), seedIndex }
  }
  if (structural && target.structure === 'jsonl') {
    const lines = new TextDecoder().decode(seed).split('\n')
    const line = random.below(lines.length)
    const text = mutateJsonText(lines[line] ?? '', random)
    if (text !== undefined) {
      lines[line] = text
      return { bytes: new TextEncoder().encode(lines.join('\n')), seedIndex }
    }
  }
  if (structural && target.structure === 'safetensors') {
    // The header is damaged as JSON and its length field kept honest, so the damage reaches the header's checks.
    const parts = safetensorsParts(seed)
    const text = parts === undefined ? undefined : mutateJsonText(parts.header, random)
    if (parts !== undefined && text !== undefined)
      return { bytes: packSafetensors(text, parts.body), seedIndex }
  }
  return { bytes: mutateBytes(seed, random, focus), seedIndex }
}

/** The error and the first frame in Tiller's own code, which is where a fix goes. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, 400)
  const frame = error.stack?.split('\n').find((line) => line.includes('/src/main/'))
  const where =
    frame === undefined
      ? ''
      : ` (${frame
          .trim()
          .replace(/^at /, '')
          .replace(/\(.*\/src\//, '(src/')})`
  return `${error.name}: ${error.message.slice(0, 300)}${where}`
}

/** Run one case of `format`. */
export async function runCase(
  formatName: string,
  target: FuzzTarget,
  runSeed: number,
  caseIndex: number,
  limits: GuardLimits = defaultGuardLimits,
): Promise<CaseResult> {
  const random = new Random(caseSeed(runSeed, formatName, caseIndex))
  const { bytes, seedIndex } = mutateInput(target, random)
  const folder = await mkdtemp(join(tmpdir(), 'tiller-fuzz-'))
  const finding = (kind: Finding['kind'], message: string): CaseResult => ({
    outcome: 'finding',
    finding: { format: formatName, seed: runSeed, caseIndex, kind, message },
  })
  const before = process.memoryUsage().rss
  let timer: NodeJS.Timeout | undefined
  try {
    const hang = new Promise<'hang'>((resolve) => {
      timer = setTimeout(() => resolve('hang'), limits.hangMilliseconds)
    })
    const outcome = await Promise.race([
      target.read(bytes, seedIndex, folder).then(
        (): CaseResult => ({ outcome: 'parsed' }),
        (error: unknown): CaseResult =>
          isTillerError(error) ? { outcome: 'refused' } : finding('exception', describe(error)),
      ),
      hang,
    ])
    if (outcome === 'hang') return finding('hang', `no answer within ${limits.hangMilliseconds} ms`)
    if (outcome.outcome === 'finding') return outcome
    const growth = process.memoryUsage().rss - before
    if (growth > limits.memoryGrowthBytes) {
      return finding('memory', `resident memory grew by ${Math.round(growth / 1024 ** 2)} MB`)
    }
    return outcome
  } finally {
    clearTimeout(timer)
    await rm(folder, { recursive: true, force: true })
  }
}
