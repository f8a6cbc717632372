/**
 * The lines of a JSONL file's bytes that hold something, one at a time: a UTF-8 byte-order mark at the start is
 * skipped, `\n` and `\r\n` end lines, and lines of only spaces, tabs and `\r` are passed over without allocating.
 * Memory stays at the file's size however many lines it has (an array of every line cost ~120 bytes per byte on a
 * file of blank lines).
 */

/** One line: its 1-based number in the file and its bytes without the line ending (a view, not a copy). */
export interface FileLine {
  line: number
  bytes: Uint8Array
}

function isBlankByte(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d
}

/** Yields every line with a byte other than space, tab or `\r`, in order, the last one too without a newline. */
export function* filledLines(bytes: Uint8Array): Generator<FileLine> {
  let start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  let line = 1
  while (start < bytes.length) {
    const newline = bytes.indexOf(0x0a, start)
    const stop = newline === -1 ? bytes.length : newline
    let first = start
    while (first < stop && isBlankByte(bytes[first])) first++
    if (first < stop) {
      const end = bytes[stop - 1] === 0x0d ? stop - 1 : stop
      yield { line, bytes: bytes.subarray(start, end) }
    }
    line++
    start = stop + 1
  }
}
