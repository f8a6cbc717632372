import type { MetadataValue } from '@huggingface/gguf'

import { TillerError } from '../../../errors.ts'
import type { GgufFile } from './gguf-file.ts'

/** GGUF's marker for "no such token" in tokenizer.ggml.*_token_id fields. */
export const noTokenId = 0xffffffff

function invalidField(file: GgufFile, key: string, detail: string): TillerError {
  return new TillerError(
    'file-corrupt',
    `${file.path}: metadata field "${key}" ${detail}. The GGUF file is damaged or was written by an incompatible converter; convert the model again with a current llama.cpp.`,
    { subject: `${file.path}: ${key}` },
  )
}

function missingField(file: GgufFile, key: string): TillerError {
  return new TillerError(
    'file-corrupt',
    `${file.path}: metadata field "${key}" is missing, so the model cannot be rebuilt exactly. Convert the model again with a current llama.cpp.`,
    { subject: `${file.path}: ${key}` },
  )
}

/** The shortest decimal that reads back as the same float32 (1e-5, not 0.000009999999747378752). */
export function shortestFloat32(value: number): number {
  for (let digits = 1; digits <= 17; digits++) {
    const candidate = Number(value.toPrecision(digits))
    if (Math.fround(candidate) === Math.fround(value)) return candidate
  }
  return value
}

/** A metadata value, or undefined when the key is absent. */
export function metadataValue(file: GgufFile, key: string): MetadataValue | undefined {
  return file.metadata.get(key)
}

/** A non-negative integer field (u8..u64, i8..i64); `fallback` when absent, an error when absent without one. */
export function metadataInteger(file: GgufFile, key: string, fallback?: number): number {
  const value = file.metadata.get(key)
  if (value === undefined) {
    if (fallback !== undefined) return fallback
    throw missingField(file, key)
  }
  const number = typeof value === 'bigint' ? Number(value) : value
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) {
    throw invalidField(file, key, `should be a non-negative integer but is ${JSON.stringify(String(value))}`)
  }
  return number
}

/** A float field; `fallback` when absent, an error when absent without one. */
export function metadataFloat(file: GgufFile, key: string, fallback?: number): number {
  const value = file.metadata.get(key)
  if (value === undefined) {
    if (fallback !== undefined) return fallback
    throw missingField(file, key)
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalidField(file, key, `should be a number but is ${JSON.stringify(String(value))}`)
  }
  return value
}

/** A string field, or undefined when absent. */
export function metadataString(file: GgufFile, key: string): string | undefined {
  const value = file.metadata.get(key)
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw invalidField(file, key, 'should be a string')
  return value
}

/** A boolean field; `fallback` when absent. */
export function metadataBoolean(file: GgufFile, key: string, fallback: boolean): boolean {
  const value = file.metadata.get(key)
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalidField(file, key, 'should be a boolean')
  return value
}

/** An array field whose elements all satisfy `isElement`, or undefined when absent. */
export function metadataArray<T extends MetadataValue>(
  file: GgufFile,
  key: string,
  isElement: (element: MetadataValue) => element is T,
  elementKind: string,
): T[] | undefined {
  const value = file.metadata.get(key)
  if (value === undefined) return undefined
  if (!Array.isArray(value)) throw invalidField(file, key, `should be an array of ${elementKind}`)
  const elements: MetadataValue[] = value
  const badIndex = elements.findIndex((element) => !isElement(element))
  if (badIndex >= 0)
    throw invalidField(file, key, `should hold ${elementKind} but element ${badIndex} is not one`)
  return elements as T[]
}

/** A token id field; undefined when absent or set to GGUF's "none" marker. */
export function metadataTokenId(file: GgufFile, key: string): number | undefined {
  if (!file.metadata.has(key)) return undefined
  const id = metadataInteger(file, key)
  return id === noTokenId ? undefined : id
}
