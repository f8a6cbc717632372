import type { ExecutionProviderName } from '../../../shared/engine-status.ts'

/** How each execution provider is named on screen. */
export const providerLabels: Record<ExecutionProviderName, string> = {
  cuda: 'CUDA',
  dml: 'DirectML',
  cpu: 'CPU',
}
