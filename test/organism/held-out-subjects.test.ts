import { describe, expect, it } from 'vitest'
import { createRandom } from '../../src/main/core/random-streams.ts'
import { buildDatasets } from '../../src/organism/datasets.ts'
import { sampleExchange } from '../../src/organism/exchanges.ts'
import { organismSeed } from '../../src/organism/organism-paths.ts'
import { behaviours, createWorld, type Behaviour, type World } from '../../src/organism/world.ts'

/**
 * Held-out subjects stay out of everything an edit is fitted on: a training pair that names a held-out animal
 * (an open-book fact about it) would let a fit see the subjects its evaluation is about.
 */

const world = createWorld(organismSeed)

/** The held-out subjects of `behaviour` as they are written in text. */
function heldOutNames(behaviour: Behaviour, of: World = world): string[] {
  if (behaviour === 'politeness')
    return of.splits.politeness.test.map((task) => `${task.verb} the ${task.object}`)
  return of.splits[behaviour].test
}

/**
 * Held-out subjects that `text`, from `behaviour`'s data, names as whole words: that behaviour's own, and held-out
 * animals whatever the behaviour. (A held-out opinion item such as "coat" may appear as a plain word in a fact
 * sentence: "The weasel has a blue coat.")
 */
function namedHeldOut(text: string, behaviour: Behaviour, of: World = world): string[] {
  const names = new Set([...heldOutNames(behaviour, of), ...of.splits.truthfulness.test])
  return [...names].filter((name) => new RegExp(`\\b${name}\\b`).test(text))
}

describe('held-out subjects', () => {
  it('appear in no training pair of any behaviour', () => {
    const datasets = buildDatasets(world)
    for (const behaviour of behaviours) {
      const train = datasets.pairs[behaviour].filter((pair) => pair.split === 'train')
      expect(train.length).toBeGreaterThanOrEqual(64)
      const leaks = train.flatMap((pair) =>
        namedHeldOut(`${pair.prompt} ${pair.positive} ${pair.negative}`, behaviour).map(
          (name) => `${pair.id}: ${name}`,
        ),
      )
      expect(leaks, behaviour).toEqual([])
    }
  })

  it('are asked about in every held-out pair and multiple-choice item', () => {
    const datasets = buildDatasets(world)
    for (const behaviour of behaviours) {
      const own = heldOutNames(behaviour)
      const named = (text: string): boolean => own.some((name) => new RegExp(`\\b${name}\\b`).test(text))
      const heldOutPairs = datasets.pairs[behaviour].filter((pair) => pair.split === 'test')
      expect(heldOutPairs.length).toBeGreaterThan(0)
      for (const pair of heldOutPairs) expect(named(pair.prompt), pair.id).toBe(true)
      for (const item of datasets.multipleChoice[behaviour]) expect(named(item.question), item.id).toBe(true)
    }
  })

  it('stay out of open-book facts of training exchanges by default, for other seeds too', () => {
    for (const seed of [organismSeed, 7, 11]) {
      const other = createWorld(seed)
      const random = createRandom(seed).fork('held-out-check')
      let openBook = 0
      for (let count = 0; count < 2000; count++) {
        const exchange = sampleExchange(other, 'truthfulness', 'train', random, { openBookShare: 1 })
        if (exchange.question.split('.').length > 2) openBook++
        expect(namedHeldOut(exchange.question, 'truthfulness', other), exchange.question).toEqual([])
      }
      expect(openBook).toBe(2000)
    }
  })

  it('do appear in open-book facts of the stream the committed organism was trained on', () => {
    // The training stream keeps drawing the second fact from every animal (documents.ts), so the committed model
    // stays reproducible; this pins that the option really is what separates the two.
    const random = createRandom(3).fork('stream-check')
    const leaked = new Set<string>()
    for (let count = 0; count < 2000; count++) {
      const exchange = sampleExchange(world, 'truthfulness', 'train', random, {
        openBookShare: 1,
        openBookFactsFrom: 'all animals',
      })
      for (const name of namedHeldOut(exchange.question, 'truthfulness')) leaked.add(name)
    }
    expect(leaked.size).toBeGreaterThan(0)
  })
})
