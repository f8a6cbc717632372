/**
 * `npm run fuzz -- [--cases N] [--format F] [--seed S] [--case I]`: long fuzz runs over Tiller's readers with the
 * generators `npm test` uses (test/fuzz). Each format's cases run in a worker thread that is terminated when a case
 * hangs (a synchronous loop included) or exhausts its heap, and the run goes on with the next case. Prints each
 * finding with the seed and case that reproduce it; exits 1 when there are findings. `--case I` runs that one case.
 */
import type { Finding } from '../test/fuzz/harness.ts'
import { formatReference, fuzzFormatIsolated } from '../test/fuzz/isolated.ts'
import { fuzzFormats } from '../test/fuzz/formats.ts'

interface Arguments {
  cases: number
  seed: number
  formats: string[]
  caseIndex: number | undefined
}

function parseArguments(argv: readonly string[]): Arguments {
  const values = new Map<string, string>()
  for (let index = 0; index < argv.length; index += 2) {
    const name = argv[index] ?? ''
    const value = argv[index + 1]
    if (!['--cases', '--format', '--seed', '--case'].includes(name) || value === undefined) {
      throw new Error(`Usage: npm run fuzz -- [--cases N] [--format F] [--seed S] [--case I] (got "${name}")`)
    }
    values.set(name, value)
  }
  const integer = (name: string, fallback: number): number => {
    const text = values.get(name)
    const value = text === undefined ? fallback : Number(text)
    if (!Number.isSafeInteger(value) || value < 0)
      throw new Error(`${name} must be a whole number, got ${text}`)
    return value
  }
  const known = fuzzFormats.map((format) => format.name)
  const chosen = values.get('--format')
  if (chosen !== undefined && !known.includes(chosen)) {
    throw new Error(`--format must be one of ${known.join(', ')}, got ${chosen}`)
  }
  return {
    cases: integer('--cases', 500),
    seed: integer('--seed', 1),
    formats: chosen === undefined ? known : [chosen],
    caseIndex: values.has('--case') ? integer('--case', 0) : undefined,
  }
}

function print(finding: Finding): void {
  process.stdout.write(
    `  ${finding.kind} in ${finding.format}: ${finding.message}\n` +
      `    reproduce: npm run fuzz -- --format ${finding.format} --seed ${finding.seed} --case ${finding.caseIndex}\n`,
  )
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseArguments(argv)
  let total = 0
  for (const name of options.formats) {
    const single = options.caseIndex !== undefined
    // The case under way, on stderr, so a long run shows where it is.
    const summary = await fuzzFormatIsolated(
      formatReference(name),
      single ? 1 : options.cases,
      options.seed,
      {
        from: options.caseIndex ?? 0,
        // Deep enough that a stack overflow's trace still reaches the Tiller frame that recursed.
        stackTraceLimit: 50_000,
        onCaseStart: (caseIndex) => process.stderr.write(`\r${name}: case ${caseIndex} started `),
      },
    )
    process.stderr.write('\n')
    const { findings, parsed, refused } = summary
    process.stdout.write(
      `${name}: ${parsed} parsed, ${refused} refused with a TillerError, ${findings.length} findings\n`,
    )
    // Findings of one class repeat; the first few of each message prefix are enough to reproduce it.
    const shown = new Map<string, number>()
    for (const finding of findings) {
      const key = `${finding.kind}:${finding.message.slice(0, 60)}`
      const count = shown.get(key) ?? 0
      shown.set(key, count + 1)
      if (count < 2) print(finding)
    }
    total += findings.length
  }
  process.stdout.write(`${total} findings in total\n`)
  return total === 0 ? 0 : 1
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(2)
  },
)
