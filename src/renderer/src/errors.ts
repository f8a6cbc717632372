/** The message to show for anything a request threw. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
