import type { ModelFingerprint } from '../../src/shared/edit.ts'

/**
 * The fingerprint of a llama model that tests never load: `layers` blocks of width `hiddenSize`, with hashes that
 * look like sha256 hex (tokenizer all "a", weights all "b").
 */
export function testFingerprint(layers: number, hiddenSize: number): ModelFingerprint {
  return {
    architecture: 'llama',
    layers,
    hiddenSize,
    tokenizerHash: 'a'.repeat(64),
    weightsHash: 'b'.repeat(64),
  }
}
