import { parseArgs } from 'node:util'
import { TillerError } from '../../core/errors.ts'
import { defaultModelFolder } from '../../core/models/default-model.ts'
import { loadSteeredModel, readEditsFor, steeringInputs } from '../../core/edits/steered-generation.ts'
import { generate } from '../../core/runtime/generate.ts'
import { loadModel } from '../../core/runtime/model.ts'
import { renderPrompt } from '../../core/runtime/prompt.ts'
import { parseProviderChoice } from '../../core/runtime/providers.ts'
import type { Command } from '../index.ts'

const usage = `Usage: tiller generate [--model DIR] --prompt TEXT [options]

Generate text with a model folder (default: the embedded model in resources/models/organism).

Options:
  --model DIR                 model folder (config.json or genai_config.json, tokenizer, ONNX graph)
  --prompt TEXT               the prompt (required, not empty)
  --chat                      wrap the prompt as a user turn with the model's chat template
  --max-tokens N              new tokens at most (default 128)
  --temperature T             0 = greedy (default 0.7)
  --top-k K                   keep the K most likely tokens; 0 = off (default 0)
  --top-p P                   nucleus sampling mass in (0, 1]; 1 = off (default 1)
  --repetition-penalty R      > 1 discourages repeats; 1 = off (default 1)
  --seed S                    sampling seed (default 0)
  --stop TEXT                 stop when the text contains TEXT (repeatable)
  --provider auto|cpu|cuda|dml  execution provider (default auto)
  --edit FILE                 steer with an edit file (repeat to compose edits)
  --strength S                the edits' strength (default 1; 0 = the unedited model)
  --json                      print one JSON object instead of streaming text:
                              { text, tokens, generatedTokens, tokensPerSecond, finishReason, provider }`

function parseNumber(flag: string, value: string | undefined, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback
  const parsed = Number(value)
  if (value.trim() === '' || !Number.isFinite(parsed) || (integer && !Number.isInteger(parsed))) {
    throw new TillerError(
      'invalid-argument',
      `--${flag} is "${value}"; give ${integer ? 'an integer' : 'a number'}.`,
      {
        subject: `--${flag}`,
      },
    )
  }
  return parsed
}

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: false,
      options: {
        model: { type: 'string' },
        prompt: { type: 'string' },
        chat: { type: 'boolean', default: false },
        'max-tokens': { type: 'string' },
        temperature: { type: 'string' },
        'top-k': { type: 'string' },
        'top-p': { type: 'string' },
        'repetition-penalty': { type: 'string' },
        seed: { type: 'string' },
        stop: { type: 'string', multiple: true },
        provider: { type: 'string', default: 'auto' },
        json: { type: 'boolean', default: false },
        edit: { type: 'string', multiple: true },
        strength: { type: 'string' },
      },
    }).values
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new TillerError('invalid-argument', `${reason}. Run \`tiller generate --help\` for the options.`)
  }
}

/** `tiller generate`: render a prompt, generate one row, stream it (or print JSON). */
export const generateCommand: Command = {
  summary: 'generate text from a prompt with a model folder',
  usage,
  async run(args) {
    const values = parse(args)
    const provider = parseProviderChoice(values.provider)
    if (provider === undefined) {
      throw new TillerError(
        'invalid-argument',
        `--provider is "${values.provider}"; use auto, cpu, cuda or dml.`,
        {
          subject: '--provider',
        },
      )
    }
    if (values.prompt === undefined) {
      throw new TillerError('empty-prompt', 'No prompt given; pass --prompt TEXT.', { subject: '--prompt' })
    }
    const maxTokens = parseNumber('max-tokens', values['max-tokens'], 128, true)
    const options = {
      maxTokens,
      temperature: parseNumber('temperature', values.temperature, 0.7, false),
      topK: parseNumber('top-k', values['top-k'], 0, true),
      topP: parseNumber('top-p', values['top-p'], 1, false),
      repetitionPenalty: parseNumber('repetition-penalty', values['repetition-penalty'], 1, false),
      seed: parseNumber('seed', values.seed, 0, true),
      stopStrings: values.stop ?? [],
    }
    const folder = values.model ?? defaultModelFolder()
    const strength = parseNumber('strength', values.strength, 1, false)
    const steering =
      values.edit === undefined
        ? undefined
        : await loadSteeredModel(folder, await readEditsFor(folder, values.edit), { provider })
    const model = steering?.model ?? (await loadModel(folder, { provider }))
    const controller = new AbortController()
    const interrupt = () => controller.abort()
    process.once('SIGINT', interrupt)
    try {
      if (model.providerFallbackReason !== undefined)
        process.stderr.write(`note: ${model.providerFallbackReason}\n`)
      const prompt = renderPrompt(model.tokenizer, values.prompt, {
        chat: values.chat,
        maxTokens,
        contextLength: model.config.maxPositionEmbeddings,
      })
      const [result] = await generate(model, {
        rows: [prompt.ids],
        options,
        signal: controller.signal,
        extraInputs: steering === undefined ? undefined : steeringInputs(steering.compiled, [strength]),
        onToken: values.json ? undefined : (event) => process.stdout.write(event.text),
      })
      if (result === undefined) throw new TillerError('internal', 'generation returned no row')
      if (values.json) {
        const output = {
          text: result.text,
          tokens: result.tokens,
          generatedTokens: result.generated,
          tokensPerSecond: result.timing.tokensPerSecond,
          finishReason: result.finishReason,
          provider: model.provider,
        }
        process.stdout.write(JSON.stringify(output) + '\n')
      } else {
        process.stdout.write('\n')
        process.stderr.write(
          `[${result.generated.length} tokens, ${result.timing.tokensPerSecond.toFixed(1)} tokens/s, ` +
            `finished: ${result.finishReason}, provider: ${model.provider}]\n`,
        )
      }
      return result.finishReason === 'cancelled' ? 130 : 0
    } finally {
      process.off('SIGINT', interrupt)
      await model.dispose()
    }
  },
}
