import { describeEndOfTurn } from './helpers/end-of-turn.ts'

// The end-of-turn check on Qwen 2.5's and Gemma 3's real vocabularies (Llama 3's runs in npm test).
describeEndOfTurn(['qwen2.5', 'gemma3'])
