import { TillerError } from '../core/errors.ts'

/** One CLI command: parses its own arguments and returns the process exit code. */
export interface Command {
  summary: string
  usage: string
  run(args: string[]): Promise<number>
}

type CommandLoader = () => Promise<Command>

// Commands load lazily so `tiller doctor` does not pay for the GGUF importer and so on.
const commands: Record<string, CommandLoader> = {
  import: async () => (await import('./commands/import.ts')).importCommand,
  generate: async () => (await import('./commands/generate.ts')).generateCommand,
  doctor: async () => (await import('./commands/doctor.ts')).doctorCommand,
  inspect: async () => (await import('./commands/inspect.ts')).inspectCommand,
  capture: async () => (await import('./commands/capture.ts')).captureCommand,
  compare: async () => (await import('./commands/compare.ts')).compareCommand,
  fit: async () => (await import('./commands/fit.ts')).fitCommand,
  export: async () => (await import('./commands/export.ts')).exportCommand,
  eval: async () => (await import('./commands/eval.ts')).evalCommand,
  diagnose: async () => (await import('./commands/diagnose.ts')).diagnoseCommand,
}

async function printHelp(): Promise<void> {
  const lines = ['Usage: tiller <command> [options]', '', 'Commands:']
  for (const [name, load] of Object.entries(commands)) {
    const command = await load()
    lines.push(`  ${name.padEnd(10)} ${command.summary}`)
  }
  lines.push('', 'Run `tiller <command> --help` for the options of one command.')
  process.stdout.write(lines.join('\n') + '\n')
}

/** Entry point: returns the exit code; errors print one line (the message) and exit non-zero. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    await printHelp()
    return name === undefined ? 1 : 0
  }
  const load = commands[name]
  if (load === undefined) {
    process.stderr.write(`tiller: unknown command "${name}". Run \`tiller --help\` for the list.\n`)
    return 2
  }
  const command = await load()
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
