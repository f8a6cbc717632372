import { TillerError } from '../../core/errors.ts'
import { generate } from '../../core/runtime/generate.ts'
import { loadModel } from '../../core/runtime/model.ts'
import { renderPrompt } from '../../core/runtime/prompt.ts'
import type { Command } from '../index.ts'
import {
  modelFlags,
  modelFolderFlag,
  numberFlag,
  parseCommandArgs,
  promptFlag,
  providerFlag,
} from './arguments.ts'
import { variantChoice, variantUsage } from './variant-flag.ts'
import { generationFlags, generationFlagsUsage, generationOptions } from './generation-flags.ts'

const defaultMaxTokens = 128

const usage = `Usage: tiller generate [--model DIR] --prompt TEXT [options]

Generate text with a model folder (default: the embedded model in resources/models/organism).

Options:
  --model DIR                 model folder (config.json or genai_config.json, tokenizer, ONNX graph)
${variantUsage(30)}
  --prompt TEXT               the prompt (required, not empty)
  --chat                      wrap the prompt as a user turn with the model's chat template
${generationFlagsUsage(defaultMaxTokens)}
  --provider auto|cpu|cuda|dml  execution provider (default auto)
  --edit FILE                 steer with an edit file (repeat to compose edits)
  --strength S                the edits' strength (default 1; 0 = the unedited model)
  --json                      print one JSON object instead of streaming text:
                              { text, tokens, generatedTokens, tokensPerSecond, finishReason, provider }`

function parse(args: string[]) {
  return parseCommandArgs('generate', {
    args,
    allowPositionals: false,
    options: {
      ...modelFlags,
      ...generationFlags,
      prompt: { type: 'string' },
      chat: { type: 'boolean', default: false },
      edit: { type: 'string', multiple: true },
      strength: { type: 'string' },
    },
  }).values
}

/** `tiller generate`: render a prompt, generate one row, stream it (or print JSON). */
export const generateCommand: Command = {
  usage,
  async run(args) {
    const values = parse(args)
    const provider = providerFlag(values.provider)
    const text = promptFlag(values.prompt)
    const options = generationOptions(values, { maxTokens: defaultMaxTokens })
    const folder = modelFolderFlag(values.model)
    const choice = variantChoice(folder, values.variant)
    if (choice.note !== undefined) process.stderr.write(`note: ${choice.note}\n`)
    const strength = numberFlag('strength', values.strength, { fallback: 1 })
    // Steering pulls in the edit compiler and the ONNX writer; plain generation does not load them.
    const steered =
      values.edit === undefined ? undefined : await import('../../core/edits/steered-generation.ts')
    const steering =
      steered === undefined || values.edit === undefined
        ? undefined
        : await steered.loadSteeredModel(
            folder,
            await steered.readEditsFor(folder, values.edit, choice.graphFile),
            {
              provider,
              graphFile: choice.graphFile,
            },
          )
    const model = steering?.model ?? (await loadModel(folder, { provider, variant: choice.variant }))
    const controller = new AbortController()
    const interrupt = () => controller.abort()
    process.once('SIGINT', interrupt)
    try {
      if (model.providerFallbackReason !== undefined)
        process.stderr.write(`note: ${model.providerFallbackReason}\n`)
      const prompt = renderPrompt(model.tokenizer, text, {
        chat: values.chat,
        maxTokens: options.maxTokens,
        contextLength: model.config.maxPositionEmbeddings,
      })
      const [result] = await generate(model, {
        rows: [prompt.ids],
        options,
        signal: controller.signal,
        extraInputs:
          steered === undefined || steering === undefined
            ? undefined
            : await steered.preparedSteeringInputs(steering, [prompt.ids], [strength]),
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
