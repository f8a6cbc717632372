/**
 * A seeded pseudo-random generator (sfc32 seeded through splitmix32) with named independent streams, so every part
 * of a seeded process (the organism's world, training stream and weight initialisation; HPR's initialisation and
 * token pairs) is reproducible from one integer seed on any platform. Sampling during generation uses
 * `runtime/random.ts` instead.
 */
export interface Random {
  /** Uniform in [0, 1). */
  float(): number
  /** Uniform integer in [0, count). */
  int(count: number): number
  /** One element chosen uniformly. */
  pick<T>(items: readonly T[]): T
  /** A shuffled copy (Fisher–Yates). */
  shuffled<T>(items: readonly T[]): T[]
  /** True with probability `probability`. */
  chance(probability: number): boolean
  /** Standard normal sample (Box–Muller). */
  normal(): number
  /** An independent stream named by `label`: the same parent seed and label always give the same stream. */
  fork(label: string): Random
}

function splitmix32(state: number): () => number {
  let value = state >>> 0
  return () => {
    value = (value + 0x9e3779b9) >>> 0
    let mixed = value
    mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b) >>> 0
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35) >>> 0
    return (mixed ^ (mixed >>> 16)) >>> 0
  }
}

function hashLabel(label: string): number {
  // FNV-1a over UTF-16 code units: stable and cheap, enough to separate named streams.
  let hash = 0x811c9dc5
  for (let position = 0; position < label.length; position++) {
    hash = Math.imul(hash ^ label.charCodeAt(position), 0x01000193) >>> 0
  }
  return hash
}

/** A generator for `seed` (any integer; only its low 32 bits matter). */
export function createRandom(seed: number): Random {
  const seeder = splitmix32(seed)
  let a = seeder()
  let b = seeder()
  let c = seeder()
  let d = seeder()
  const next = (): number => {
    const result = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = ((c << 21) | (c >>> 11)) >>> 0
    c = (c + result) >>> 0
    return result
  }
  // Warm up so nearby seeds diverge immediately.
  for (let round = 0; round < 12; round++) next()

  const random: Random = {
    float: () => next() / 4294967296,
    int: (count) => Math.floor((next() / 4294967296) * count),
    pick: (items) => {
      const item = items[Math.floor((next() / 4294967296) * items.length)]
      if (item === undefined) throw new RangeError('pick() needs a non-empty list')
      return item
    },
    shuffled: (items) => {
      const copy = items.slice()
      for (let position = copy.length - 1; position > 0; position--) {
        const other = Math.floor((next() / 4294967296) * (position + 1))
        const held = copy[position] as (typeof copy)[number]
        copy[position] = copy[other] as (typeof copy)[number]
        copy[other] = held
      }
      return copy
    },
    chance: (probability) => next() / 4294967296 < probability,
    normal: () => {
      const first = (next() + 1) / 4294967297
      const second = next() / 4294967296
      return Math.sqrt(-2 * Math.log(first)) * Math.cos(2 * Math.PI * second)
    },
    fork: (label) => createRandom((seed ^ hashLabel(label)) >>> 0),
  }
  return random
}
