import { onScopeDispose } from 'vue'

/**
 * Keyboard shortcuts for the calling component's lifetime. A shortcut is written `Mod+Enter`, `Escape`,
 * `Mod+1`, …: `Mod` is Ctrl (or ⌘ on macOS), `Shift` and `Alt` as named; the key is `KeyboardEvent.key`
 * (case-insensitive). Handlers run on `window` keydown; a handler that returns `false` lets the key through.
 */
export type ShortcutHandler = (event: KeyboardEvent) => boolean | void

interface ParsedShortcut {
  key: string
  mod: boolean
  shift: boolean
  alt: boolean
}

/** Parse `Mod+Shift+K` into its key and modifiers. */
export function parseShortcut(shortcut: string): ParsedShortcut {
  const parts = shortcut.split('+').map((part) => part.trim())
  const key = parts.pop()
  if (key === undefined || key === '') throw new Error(`The shortcut "${shortcut}" names no key.`)
  const modifiers = new Set(parts.map((part) => part.toLowerCase()))
  for (const modifier of modifiers) {
    if (!['mod', 'shift', 'alt'].includes(modifier)) {
      throw new Error(`Unknown modifier "${modifier}" in "${shortcut}"; use Mod, Shift or Alt.`)
    }
  }
  return {
    key: key.toLowerCase(),
    mod: modifiers.has('mod'),
    shift: modifiers.has('shift'),
    alt: modifiers.has('alt'),
  }
}

/** True when `event` is `shortcut` exactly (extra modifiers do not match). */
export function matchesShortcut(event: KeyboardEvent, shortcut: ParsedShortcut): boolean {
  const mod = event.ctrlKey || event.metaKey
  return (
    event.key.toLowerCase() === shortcut.key &&
    mod === shortcut.mod &&
    event.shiftKey === shortcut.shift &&
    event.altKey === shortcut.alt
  )
}

/** Register `shortcuts` (shortcut → handler) until the calling scope is disposed. */
export function useShortcuts(shortcuts: Record<string, ShortcutHandler>): void {
  const parsed = Object.entries(shortcuts).map(([shortcut, handler]) => ({
    shortcut: parseShortcut(shortcut),
    handler,
  }))
  const listener = (event: KeyboardEvent): void => {
    for (const { shortcut, handler } of parsed) {
      if (!matchesShortcut(event, shortcut)) continue
      if (handler(event) === false) continue
      event.preventDefault()
      return
    }
  }
  window.addEventListener('keydown', listener)
  onScopeDispose(() => window.removeEventListener('keydown', listener))
}
