// `node read-write.mjs SOURCE TARGET`: the floor of a streaming import in user space, for the import benchmark:
// read SOURCE once in 8 MB pieces, write each piece to TARGET, and flush TARGET to disk (as an import does).
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs'

const [source, target] = process.argv.slice(2)
const input = openSync(source, 'r')
const output = openSync(target, 'w')
const piece = Buffer.allocUnsafe(8 * 1024 * 1024)
let position = 0
for (;;) {
  const read = readSync(input, piece, 0, piece.length, position)
  if (read === 0) break
  writeSync(output, piece, 0, read)
  position += read
}
fsyncSync(output)
closeSync(output)
closeSync(input)
