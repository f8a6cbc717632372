import { variantNames } from '../../../shared/model-variants.ts'
import { pullModel, type PullProgress } from '../../core/models/hub/pull.ts'
import { TillerError } from '../../core/errors.ts'
import type { Command } from '../index.ts'
import { invalidFlag, parseCommandArgs } from './arguments.ts'

const usage = `Usage: tiller pull MODEL_ID [--variant NAME | --dtype NAME] [--revision REV] [--json]

Download one variant of a Transformers.js ONNX model (e.g. onnx-community/Qwen2.5-0.5B-Instruct) from the Hugging
Face hub into its cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub), where the Models screen
and --model find it. An interrupted pull resumes where it stopped. HF_ENDPOINT selects a mirror, HF_TOKEN gives
access to gated models.

Options:
  --variant NAME   ${variantNames.join(', ')} (default: float32 if present, else the smallest lossless one)
  --dtype NAME     the same as --variant (Transformers.js's name for it)
  --revision REV   branch, tag or commit (default main)
  --json           print { folder, commit, variant, files, totalBytes, downloadedBytes } when done`

function parse(args: string[]) {
  return parseCommandArgs('pull', {
    args,
    allowPositionals: true,
    options: {
      variant: { type: 'string' },
      dtype: { type: 'string' },
      revision: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
}

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`

/** A progress reporter: one rewritten line on a terminal, a line per finished file otherwise. */
function progressPrinter(): (progress: PullProgress) => void {
  const terminal = process.stderr.isTTY
  let lastFile = ''
  let lastPrinted = 0
  return (progress) => {
    const percent = progress.totalBytes === 0 ? 100 : (100 * progress.bytes) / progress.totalBytes
    const line =
      `${progress.file}: ${megabytes(progress.fileBytes)} / ${megabytes(progress.fileTotal)}` +
      ` (total ${percent.toFixed(1)} % of ${megabytes(progress.totalBytes)})`
    const finished = progress.fileBytes === progress.fileTotal
    if (terminal) {
      const now = Date.now()
      if (finished || progress.file !== lastFile || now - lastPrinted > 200) {
        process.stderr.write(`\r\u001b[2K${line}${finished ? '\n' : ''}`)
        lastPrinted = now
      }
    } else if (finished) {
      process.stderr.write(line + '\n')
    }
    lastFile = progress.file
  }
}

/** `tiller pull`: download one variant of a hub model into the Hugging Face cache. */
export const pullCommand: Command = {
  usage,
  async run(args) {
    const { values, positionals } = parse(args)
    const [repository, ...extra] = positionals
    if (repository === undefined || extra.length > 0) {
      throw new TillerError(
        'invalid-argument',
        `Give exactly one MODEL_ID (owner/name), e.g. tiller pull onnx-community/Qwen2.5-0.5B-Instruct --variant q4.`,
        { subject: 'MODEL_ID' },
      )
    }
    if (values.variant !== undefined && values.dtype !== undefined && values.variant !== values.dtype) {
      throw invalidFlag(
        'dtype',
        values.dtype,
        `it names the same choice as --variant "${values.variant}"; give one`,
      )
    }
    const result = await pullModel({
      repository,
      variant: values.variant ?? values.dtype,
      revision: values.revision,
      onProgress: progressPrinter(),
    })
    if (values.json) {
      process.stdout.write(JSON.stringify({ ...result, variant: result.variant.name }) + '\n')
    } else {
      process.stdout.write(
        `${repository} ${result.variant.name} (${result.variant.reason}): ${result.files.length} files, ` +
          `${megabytes(result.totalBytes)} (${megabytes(result.downloadedBytes)} downloaded now) in ${result.folder}\n`,
      )
    }
    return 0
  },
}
