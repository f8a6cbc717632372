import { describe, expect, test } from 'vitest'
import { messageOf, studioWords } from '../../src/renderer/src/errors.ts'
import { createClient } from '../../src/shared/contract-client.ts'
import { bridgeOverPort, createPortPair, serveContract } from '../../src/shared/contract-port.ts'
import { parseRequestArgs, type ContractService } from '../../src/shared/contract.ts'

/**
 * Errors reach the studio in its own words: a request refused by the contract's schema arrives as "Invalid
 * options.layers: Too big: expected …" and is shown as the form's field and a plain rule.
 */

/** A service whose requests only check their arguments, as every engine handler does first. */
function checkingClient() {
  const service = {
    subscribe: () => () => undefined,
    'diagnostics:layers': async (args: unknown) => parseRequestArgs('diagnostics:layers', args),
    'model:load': async (args: unknown) => parseRequestArgs('model:load', args),
    'chat:send': async (args: unknown) => parseRequestArgs('chat:send', args),
  } as unknown as ContractService
  const [serverPort, clientPort] = createPortPair()
  serveContract(service, serverPort)
  return createClient(bridgeOverPort(clientPort))
}

async function shown(request: Promise<unknown>): Promise<string> {
  try {
    await request
  } catch (thrown) {
    return messageOf(thrown)
  }
  throw new Error('the request was not refused')
}

describe('schema refusals in the studio’s words', () => {
  test('the contract’s field paths and rules become the form’s field and a plain rule', async () => {
    const client = checkingClient()
    const call = client as unknown as Record<string, (args: unknown) => Promise<unknown>>
    const few = await shown(call['diagnostics:layers']!({ dataset: '/data/a.jsonl', maxPairs: 2 }))
    expect(few).toBe('Pairs to read: Use at least 4 pairs.')
    const strength = await shown(
      call['diagnostics:layers']!({ dataset: '/data/a.jsonl', edit: { id: 'e', strength: 1e9 } }),
    )
    expect(strength).toBe('Strength: must be at most 1000000.')
    const folder = await shown(call['model:load']!({ path: ' ' }))
    expect(folder).toBe('Model folder: Give the path of a model folder.')
    const missing = await shown(call['model:load']!({}))
    expect(missing).toBe('Model folder: is missing.')
    const stacked = await shown(
      call['chat:send']!({
        message: 'hi',
        edits: Array.from({ length: 9 }, (_, index) => ({ id: `e${index}`, strength: 1, enabled: true })),
      }),
    )
    expect(stacked).toBe('Edits: Stack at most 8 edits.')
    for (const message of [few, strength, folder, missing, stacked]) {
      expect(message).not.toMatch(/Invalid|expected|received|\w+\.\w+:/)
    }
  })

  test('environment variables and flags are dropped; plain sentences stay', () => {
    expect(
      studioWords(
        "Cannot write the compiled graph steered-1.onnx (disk full). Check that Tiller's cache folder (/tmp/c, set by TILLER_CACHE) is writable and has space.",
      ),
    ).toBe(
      "Cannot write the compiled graph steered-1.onnx (disk full). Check that Tiller's cache folder (/tmp/c) is writable and has space.",
    )
    expect(studioWords('Strengths other than 0 need an edit; pass --edit FILE.')).toBe(
      'Strengths other than 0 need an edit.',
    )
    // The execution-provider probe's setup advice, with and without backticks, as the Engine card shows it.
    expect(
      studioWords(
        'The CUDA provider library libonnxruntime_providers_cuda.so is not installed beside the ONNX Runtime binding; run `npm run setup:cuda` to install them (needs the NVIDIA driver, CUDA 12 and cuDNN 9).',
      ),
    ).toBe(
      'The CUDA provider library libonnxruntime_providers_cuda.so is not installed beside the ONNX Runtime binding.',
    )
    expect(studioWords('CUDA libraries are not installed; run npm run setup:cuda.')).toBe(
      'CUDA libraries are not installed.',
    )
    expect(studioWords('Invalid input was found in row 3 of a.jsonl.')).toBe(
      'Invalid input was found in row 3 of a.jsonl.',
    )
  })
})
