import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { splitByIdHash } from '../../src/main/core/data/id-split.ts'
import { datasetsDirectory } from '../../src/organism/organism-paths.ts'
import { behaviours } from '../../src/organism/world.ts'

describe('validation / test split of multiple-choice items', () => {
  it('splits half and half by id alone', () => {
    const items = Array.from({ length: 11 }, (_, index) => ({ id: `item-${index}`, value: index }))
    const split = splitByIdHash(items)
    expect(split.map((item) => item.value)).toEqual(items.map((item) => item.value))
    expect(split.filter((item) => item.split === 'validation')).toHaveLength(5)
    expect(split.filter((item) => item.split === 'test')).toHaveLength(6)
    const reversed = splitByIdHash([...items].reverse())
    const byId = new Map(reversed.map((item) => [item.id, item.split]))
    for (const item of split) expect(byId.get(item.id)).toBe(item.split)
  })

  it('is in the committed item files, half validation and half test per behaviour', async () => {
    for (const behaviour of behaviours) {
      const text = await readFile(join(datasetsDirectory, `${behaviour}.mc.jsonl`), 'utf8')
      const rows = text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { id: string; split: string })
      const validation = rows.filter((row) => row.split === 'validation').length
      expect(validation * 2).toBe(rows.length)
      expect(rows.filter((row) => row.split === 'test').length).toBe(rows.length - validation)
    }
  })
})
