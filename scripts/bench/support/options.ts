/** Command-line options every benchmark takes. */
import type { ParseArgsOptionsConfig } from 'node:util'

/**
 * --model DIR (benchmark this folder only), --tokens N new tokens per timed run (default 64), --repeats R
 * (default `repeats`), --skip-large (leave out the large random model).
 */
export function benchmarkOptions(repeats: number) {
  return {
    model: { type: 'string' },
    tokens: { type: 'string', default: '64' },
    repeats: { type: 'string', default: String(repeats) },
    'skip-large': { type: 'boolean', default: false },
  } as const satisfies ParseArgsOptionsConfig
}
