/**
 * What the main process and the engine's utility process say over the process's own channel (the contract itself
 * travels over the MessagePort sent with `connect`): heartbeats, which the engine answers from its event loop, so
 * an engine stuck in a long synchronous call (a runaway template, a huge ONNX run) stops answering and the
 * watchdog (src/main/supervision/engine-watchdog.ts) can tell.
 */
export type EngineHostMessage = { kind: 'connect' } | { kind: 'heartbeat'; beat: number }

/** True for a heartbeat message (the engine's answer, or the main process's question). */
export function isHeartbeat(message: unknown): message is { kind: 'heartbeat'; beat: number } {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { kind?: unknown }).kind === 'heartbeat' &&
    typeof (message as { beat?: unknown }).beat === 'number'
  )
}
