/**
 * SentencePiece BPE encoding as llama2.c's run.c does it: "▁" prefix and spaces as "▁", one symbol per code
 * point (bytes as <0xXX> pieces when the code point is not a piece), then repeatedly merge the adjacent pair
 * whose concatenation is the highest-scoring piece (leftmost on ties). Returns ids with BOS first.
 */
export function referenceEncode(
  text: string,
  tokens: readonly string[],
  scores: readonly number[],
  bosId: number,
): number[] {
  const ids = new Map<string, number>()
  tokens.forEach((token, id) => {
    if (!ids.has(token)) ids.set(token, id)
  })
  if (text === '') return [bosId]
  const symbols: number[] = []
  for (const character of `▁${text.replaceAll(' ', '▁')}`) {
    const id = ids.get(character)
    if (id !== undefined) {
      symbols.push(id)
      continue
    }
    for (const byte of new TextEncoder().encode(character)) {
      symbols.push(ids.get(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`) ?? 0)
    }
  }
  for (;;) {
    let best = -1
    let bestScore = -Infinity
    let bestId = -1
    for (let index = 0; index + 1 < symbols.length; index++) {
      const merged = `${tokens[symbols[index] ?? 0]}${tokens[symbols[index + 1] ?? 0]}`
      const id = ids.get(merged)
      if (id !== undefined && (scores[id] ?? -Infinity) > bestScore) {
        best = index
        bestScore = scores[id] ?? -Infinity
        bestId = id
      }
    }
    if (best < 0) break
    symbols.splice(best, 2, bestId)
  }
  return [bosId, ...symbols]
}
