/// <reference types="vite/client" />
import type { TillerBridge } from '../../shared/contract.ts'

declare global {
  interface Window {
    /** Present in the desktop app: the preload's bridge, built from the contract's names. */
    tiller?: TillerBridge
  }
}
