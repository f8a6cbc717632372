import { TillerError } from '../core/errors.ts'

/** One CLI command: parses its own arguments and returns the process exit code. */
export interface Command {
  usage: string
  run(args: string[]): Promise<number>
}

/** A command's line in `tiller --help` and how to load it. */
interface CommandEntry {
  summary: string
  load: () => Promise<Command>
}

// Commands load lazily so `tiller doctor` does not pay for the GGUF importer and so on; the summaries live here so
// `tiller --help` loads no command at all. (`fit`'s method list is checked against the registry by a test.)
const commands: Record<string, CommandEntry> = {
  import: {
    summary: 'convert a GGUF model into an ONNX model folder, or a data set into Tiller JSONL',
    load: async () => (await import('./commands/import.ts')).importCommand,
  },
  pull: {
    summary: 'download one variant of a Transformers.js ONNX model from the Hugging Face hub into its cache',
    load: async () => (await import('./commands/pull.ts')).pullCommand,
  },
  generate: {
    summary: 'generate text from a prompt with a model folder',
    load: async () => (await import('./commands/generate.ts')).generateCommand,
  },
  doctor: {
    summary: 'show versions, the active execution provider and why others were skipped',
    load: async () => (await import('./commands/doctor.ts')).doctorCommand,
  },
  inspect: {
    summary: 'show the hook sites of every decoder layer with their shapes',
    load: async () => (await import('./commands/inspect.ts')).inspectCommand,
  },
  capture: {
    summary: 'capture hook-site activations of a demonstration set',
    load: async () => (await import('./commands/capture.ts')).captureCommand,
  },
  compare: {
    summary: 'generate one prompt at several edit strengths in one batch',
    load: async () => (await import('./commands/compare.ts')).compareCommand,
  },
  fit: {
    summary:
      'fit an activation edit (actadd, caa, mean-diff, pca-diff, pca-center, ablation, sea, phi-sea, hpr, iti, sadi)',
    load: async () => (await import('./commands/fit.ts')).fitCommand,
  },
  export: {
    summary: 'export an edit as a llama.cpp control vector (GGUF) or a steered ONNX model folder',
    load: async () => (await import('./commands/export.ts')).exportCommand,
  },
  eval: {
    summary: 'score multiple-choice items and fluency, base vs edited, at several strengths',
    load: async () => (await import('./commands/eval.ts')).evalCommand,
  },
  diagnose: {
    summary:
      'per-layer probe accuracy, separation and norms of a demonstration set, with a recommended layer',
    load: async () => (await import('./commands/diagnose.ts')).diagnoseCommand,
  },
}

function printHelp(): void {
  const lines = ['Usage: tiller <command> [options]', '', 'Commands:']
  for (const [name, entry] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${entry.summary}`)
  lines.push('', 'Global options:', '  --threads N  ONNX Runtime threads per session (default: one per core)')
  lines.push('', 'Run `tiller <command> --help` for the options of one command.')
  process.stdout.write(lines.join('\n') + '\n')
}

/**
 * Takes the global `--threads N` (or `--threads=N`) out of `argv`; returns the remaining arguments and the count
 * (undefined when absent, NaN when not a number, which the runtime then refuses with a message).
 */
function takeThreads(argv: string[]): { args: string[]; threads: number | undefined } {
  const args: string[] = []
  let threads: number | undefined
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] as string
    if (argument === '--threads') {
      threads = Number(argv[index + 1] ?? Number.NaN)
      index++
    } else if (argument.startsWith('--threads=')) threads = Number(argument.slice('--threads='.length))
    else args.push(argument)
  }
  return { args, threads }
}

/** Entry point: returns the exit code; errors print one line (the message) and exit non-zero. */
export async function main(argv: string[]): Promise<number> {
  const { args, threads } = takeThreads(argv)
  if (threads !== undefined) {
    // Loaded only when asked for: the session module brings ONNX Runtime, which `--help` should not pay for.
    const { setIntraOpThreads } = await import('../core/runtime/session.ts')
    try {
      setIntraOpThreads(threads)
    } catch (error) {
      if (!(error instanceof TillerError)) throw error
      process.stderr.write(`tiller: ${error.message}\n`)
      return 2
    }
  }
  const [name, ...rest] = args
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    printHelp()
    return name === undefined ? 1 : 0
  }
  // hasOwn: names such as `constructor` must not reach Object.prototype.
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (entry === undefined) {
    process.stderr.write(`tiller: unknown command "${name}". Run \`tiller --help\` for the list.\n`)
    return 2
  }
  const command = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage + '\n')
    return 0
  }
  try {
    return await command.run(rest)
  } catch (error) {
    if (error instanceof TillerError) {
      process.stderr.write(`tiller ${name}: ${error.message}\n`)
      return 1
    }
    throw error
  }
}
