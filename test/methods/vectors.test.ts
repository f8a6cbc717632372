import { describe, expect, it } from 'vitest'
import {
  add,
  cosine,
  dot,
  negate,
  norm,
  normalize,
  removeComponent,
  scale,
  subtract,
  sum,
} from '../../src/shared/vectors.ts'
import { random } from './synthetic.ts'

const draw = random(7)
const v = Float32Array.from({ length: 9 }, () => draw.gaussian())
const w = Float32Array.from({ length: 9 }, () => draw.gaussian())

describe('vectors as values', () => {
  it('keeps the identities exact: v − v = 0, v + (−v) = 0, 0·v = 0, 1·v = v, −(−v) = v', () => {
    expect(Array.from(subtract(v, v)).every((value) => value === 0)).toBe(true)
    expect(Array.from(add(v, negate(v))).every((value) => value === 0)).toBe(true)
    expect(Array.from(scale(v, 0)).every((value) => value === 0)).toBe(true)
    expect(scale(v, 1)).toEqual(v)
    expect(negate(negate(v))).toEqual(v)
  })

  it('never mutates its arguments', () => {
    const before = Float32Array.from(v)
    add(v, w)
    scale(v, 3)
    normalize(v)
    expect(v).toEqual(before)
  })

  it('computes dot, norm, cosine, sum and component removal', () => {
    let reference = 0
    for (let index = 0; index < 9; index++) reference += v[index]! * w[index]!
    expect(dot(v, w)).toBeCloseTo(reference, 12)
    expect(norm(v)).toBeCloseTo(Math.sqrt(dot(v, v)), 12)
    expect(norm(normalize(v))).toBeCloseTo(1, 6)
    expect(cosine(v, scale(v, 2))).toBeCloseTo(1, 6)
    expect(sum([v, w, negate(w)], 9)).toEqual(v)
    const unit = normalize(w)
    expect(dot(removeComponent(v, unit), unit)).toBeCloseTo(0, 6)
  })

  it('refuses mismatched widths and zero vectors', () => {
    expect(() => add(v, new Float32Array(3))).toThrow(/widths differ/)
    expect(() => normalize(new Float32Array(4))).toThrow(/no direction/)
  })
})
