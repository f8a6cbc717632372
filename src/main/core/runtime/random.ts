/**
 * A small, seedable random number generator (xoshiro128**, seeded through splitmix32) so sampling is reproducible:
 * the same seed gives the same draws on every platform and in every batch position.
 */

function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0
  let mixed = next
  mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b)
  mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35)
  mixed ^= mixed >>> 16
  return [next, mixed >>> 0]
}

/** A seeded generator of uniform numbers in [0, 1). */
export class Random {
  private readonly state = new Uint32Array(4)

  /** `seed` is any finite number; its integer part up to 2^53 is used in full. */
  constructor(seed: number) {
    const integer = Math.trunc(Math.abs(seed))
    // Low and high words both count; a distinct constant keeps -s and s apart.
    let mix = ((integer >>> 0) ^ Math.floor(integer / 0x1_0000_0000) ^ (seed < 0 ? 0x5bd1e995 : 0)) | 0
    for (let index = 0; index < 4; index++) {
      const [next, value] = splitmix32(mix)
      mix = next
      this.state[index] = value
    }
    if (this.state.every((word) => word === 0)) this.state[0] = 1
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const state = this.state
    const s0 = state[0] as number
    const s1 = state[1] as number
    const s2 = state[2] as number
    const s3 = state[3] as number
    const result = Math.imul(rotateLeft(Math.imul(s1, 5), 7), 9) >>> 0
    const shifted = (s1 << 9) >>> 0
    const t2 = (s2 ^ s0) >>> 0
    const t3 = (s3 ^ s1) >>> 0
    state[1] = s1 ^ t2
    state[0] = s0 ^ t3
    state[2] = t2 ^ shifted
    state[3] = rotateLeft(t3, 11)
    return result
  }

  /** A uniform number in [0, 1) with 53 random bits. */
  next(): number {
    const high = this.nextUint32() >>> 5
    const low = this.nextUint32() >>> 6
    return (high * 67108864 + low) / 9007199254740992
  }
}

function rotateLeft(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0
}

/** A fresh seed for runs the caller did not seed. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x1_0000_0000)
}
