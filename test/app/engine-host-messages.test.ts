import { describe, expect, it } from 'vitest'
import { isHeartbeat } from '../../src/main/app/engine-host-messages.ts'

describe("the engine host's own channel", () => {
  it('tells heartbeats from the connect message and from anything else', () => {
    expect(isHeartbeat({ kind: 'heartbeat', beat: 3 })).toBe(true)
    expect(isHeartbeat({ kind: 'connect' })).toBe(false)
    expect(isHeartbeat({ kind: 'heartbeat' })).toBe(false)
    expect(isHeartbeat({ kind: 'heartbeat', beat: '3' })).toBe(false)
    expect(isHeartbeat(null)).toBe(false)
    expect(isHeartbeat('heartbeat')).toBe(false)
  })
})
