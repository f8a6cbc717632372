import type { ExportProgress } from '../../core/models/exporter/index.ts'

/** One progress line of a GGUF import: the weight count, the weight and the megabytes written so far. */
export function importProgressLine(progress: ExportProgress): string {
  const megabytes = (progress.writtenBytes / 1e6).toFixed(1)
  return `Writing weights: tensor ${progress.tensor}/${progress.tensors} (${progress.name}), ${megabytes} MB written`
}

/** Where progress goes: standard error, or a test's stand-in. */
export interface ProgressStream {
  isTTY?: boolean
  write(text: string): unknown
}

/**
 * A progress reporter for `tiller import gguf`: on a terminal one line rewritten at most every `intervalMs` (and
 * at the last weight), elsewhere (a log, a pipe) a line at each tenth of the weights, so logs stay short.
 */
export function importProgressPrinter(
  stream: ProgressStream,
  intervalMs = 200,
  now: () => number = Date.now,
): (progress: ExportProgress) => void {
  let lastPrinted = Number.NEGATIVE_INFINITY
  let lastTenth = 0
  return (progress) => {
    const finished = progress.tensor === progress.tensors
    const line = importProgressLine(progress)
    if (stream.isTTY === true) {
      if (!finished && now() - lastPrinted < intervalMs) return
      lastPrinted = now()
      stream.write(`\r\u001b[2K${line}${finished ? '\n' : ''}`)
      return
    }
    const tenth = Math.floor((10 * progress.tensor) / progress.tensors)
    if (tenth > lastTenth || finished) stream.write(line + '\n')
    lastTenth = tenth
  }
}
