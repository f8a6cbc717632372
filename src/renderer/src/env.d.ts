/// <reference types="vite/client" />
import type { TillerBridge } from '../../shared/contract.ts'
import type { TillerDesktop } from '../../shared/desktop.ts'

declare global {
  interface Window {
    /** Present in the desktop app: the preload's bridge, built from the contract's names. */
    tiller?: TillerBridge
    /** Present in the desktop app: the operating system's file dialogs. */
    tillerDesktop?: TillerDesktop
  }
}
