import { readFileSync } from 'node:fs'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

import { readActivationSet, writeActivationSet } from '../../src/main/core/capture/activation-file.ts'
import { canonicalJsonl } from '../../src/main/core/data/hash.ts'
import { readDemonstrationFile } from '../../src/main/core/data/jsonl.ts'
import { contrastPairs } from '../../src/main/core/data/pairs.ts'
import type { DemonstrationSet } from '../../src/main/core/data/schema.ts'
import { exportControlVector, importControlVector } from '../../src/main/core/edits/control-vector.ts'
import { decodeEditFile, encodeEditFile } from '../../src/main/core/edits/edit-file.ts'
import { serializeGguf } from '../../src/main/core/gguf/writer.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { activationTypeOf } from '../../src/main/core/models/locator/index.ts'
import { locateSites } from '../../src/main/core/models/locator/locate.ts'
import { checkExternalReferences } from '../../src/main/core/onnx/external-data.ts'
import { decodeModel } from '../../src/main/core/onnx/proto.ts'
import { readModelConfig } from '../../src/main/core/runtime/model-config.ts'
import { loadTokenizer } from '../../src/main/core/runtime/tokenizer.ts'
import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import type { ActivationSet } from '../../src/shared/activations.ts'
import type { Edit } from '../../src/shared/edit.ts'
import { testFingerprint } from '../helpers/fingerprint.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'
import {
  checkpointToGguf,
  randomCheckpoint,
  randomValues,
  tinyConfig,
} from '../importers/helpers/gguf-model.ts'
import { tinyBytePairMetadata } from '../importers/helpers/byte-pair-gguf.ts'
import { ggufIntegerFields } from './gguf-fields.ts'
import { concat } from './mutator.ts'
import type { FuzzFormat } from './harness.ts'

/**
 * The formats Tiller reads from disk, each with valid seeds written by Tiller's own writers and the reader a user's
 * file reaches first.
 */

const width = 8

function sampleEdit(): Edit {
  return {
    version: 1,
    id: 'fuzz-edit',
    method: 'caa',
    options: { layers: [0, 1] },
    model: testFingerprint(3, width),
    interventions: [
      {
        layer: 1,
        site: 'resid_post',
        positions: { kind: 'all' },
        op: { kind: 'add', vector: randomValues(width, 1, 1) },
      },
      {
        layer: 2,
        site: 'resid_post',
        positions: { kind: 'all' },
        op: { kind: 'add', vector: randomValues(width, 2, 1) },
      },
    ],
    created: '2026-01-02T03:04:05.000Z',
    notes: 'fuzz seed',
  }
}

/** An edit using more op kinds than a control vector can hold, for the edit-file format. */
function richEdit(): Edit {
  const edit = sampleEdit()
  edit.interventions.push(
    {
      layer: 0,
      site: 'resid_pre',
      positions: { kind: 'promptPrefix', count: 2 },
      op: { kind: 'addAt', count: 2, vectors: randomValues(2 * width, 3, 1) },
    },
    {
      layer: 2,
      site: 'attn_out',
      positions: { kind: 'all' },
      op: { kind: 'project', rank: 2, mode: 'remove', basis: randomValues(2 * width, 4, 1) },
    },
    {
      layer: 1,
      site: 'mlp_act',
      positions: { kind: 'lastPromptToken' },
      op: { kind: 'scale', factors: randomValues(16, 5, 1) },
    },
  )
  return edit
}

async function scratchFolder(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tiller-fuzz-seeds-'))
}

/** Bytes of a file written at `path` by `write`. */
async function written(path: string, write: (path: string) => Promise<void>): Promise<Uint8Array> {
  await write(path)
  return new Uint8Array(await readFile(path))
}

export const ggufModelFormat: FuzzFormat = {
  name: 'gguf-model',
  async prepare() {
    const chunks = serializeGguf(checkpointToGguf(randomCheckpoint(tinyConfig, 3)))
    const tensorCount = 9 * tinyConfig.numLayers + 3
    const headerChunks = chunks.slice(0, chunks.length - 2 * tensorCount)
    const focus = headerChunks.reduce((sum, chunk) => sum + chunk.length, 0)
    const seed = concat(chunks)
    const bytePairSeed = concat(
      serializeGguf(
        checkpointToGguf(randomCheckpoint(tinyConfig, 4), {
          metadata: tinyBytePairMetadata(tinyConfig.vocabSize),
        }),
      ),
    )
    return {
      seeds: [seed, bytePairSeed],
      focus: [
        { prefix: focus, fields: ggufIntegerFields(seed) },
        { prefix: bytePairSeed.length - (seed.length - focus), fields: ggufIntegerFields(bytePairSeed) },
      ],
      structure: 'bytes',
      async read(bytes, _, folder) {
        const path = join(folder, 'model.gguf')
        await writeFile(path, bytes)
        return importGguf(path)
      },
    }
  },
}

export const controlVectorFormat: FuzzFormat = {
  name: 'control-vector',
  async prepare() {
    const folder = await scratchFolder()
    const seed = await written(join(folder, 'seed.gguf'), (path) => exportControlVector(sampleEdit(), path))
    await rm(folder, { recursive: true, force: true })
    const focus = { prefix: 0, fields: ggufIntegerFields(seed) }
    // The same file twice: imported for a given model (seed 0) and on its own (seed 1), two different paths.
    return {
      seeds: [seed, seed],
      focus: [focus, focus],
      structure: 'bytes',
      async read(bytes, seedIndex, caseFolder) {
        const path = join(caseFolder, 'vector.gguf')
        await writeFile(path, bytes)
        return importControlVector(path, seedIndex === 0 ? { model: testFingerprint(3, width) } : {})
      },
    }
  },
}

export const editFileFormat: FuzzFormat = {
  name: 'edit-file',
  async prepare() {
    return {
      seeds: [concat(encodeEditFile(sampleEdit())), concat(encodeEditFile(richEdit()))],
      structure: 'safetensors',
      async read(bytes) {
        return decodeEditFile(bytes, 'fuzz.safetensors', testFingerprint(3, width))
      },
    }
  },
}

const sampleActivations: ActivationSet = {
  site: 'resid_post',
  selector: 'completionTokens',
  layers: [0, 2],
  width: 3,
  rows: 3,
  rowsPerPair: [2, 1],
  positive: [randomValues(9, 11, 1), randomValues(9, 12, 1)],
  negative: [randomValues(9, 13, 1), randomValues(9, 14, 1)],
  exampleIds: ['a', 'b'],
  dataHash: 'd'.repeat(64),
  model: testFingerprint(3, 3),
}

export const activationFileFormat: FuzzFormat = {
  name: 'activations',
  async prepare() {
    const folder = await scratchFolder()
    const seed = await written(join(folder, 'seed.safetensors'), (path) =>
      writeActivationSet(path, sampleActivations),
    )
    await rm(folder, { recursive: true, force: true })
    return {
      seeds: [seed],
      structure: 'safetensors',
      async read(bytes, _, caseFolder) {
        const path = join(caseFolder, 'activations.safetensors')
        await writeFile(path, bytes)
        return readActivationSet(path)
      },
    }
  },
}

const demonstrationSets: DemonstrationSet[] = [
  {
    kind: 'pairs',
    source: 'fuzz',
    rows: [
      { id: 'p1', line: 1, prompt: 'Q?', positive: 'yes', negative: 'no', split: 'train', tags: ['a'] },
      { id: 'p2', line: 2, prompt: 'R?', positive: 'sure', negative: 'never' },
    ],
  },
  {
    kind: 'labelled',
    source: 'fuzz',
    rows: [
      { id: 'l1', line: 1, prompt: 'Q?', completion: 'yes', label: 'positive' },
      { id: 'l2', line: 2, prompt: 'Q?', completion: 'no', label: 'negative', split: 'test' },
    ],
  },
  {
    kind: 'choices',
    source: 'fuzz',
    rows: [{ id: 'c1', line: 1, question: 'Which?', choices: ['A', 'B', 'C'], correct: [1] }],
  },
]

export const jsonlFormat: FuzzFormat = {
  name: 'jsonl',
  async prepare() {
    return {
      seeds: demonstrationSets.map((set) => new TextEncoder().encode(canonicalJsonl(set))),
      structure: 'jsonl',
      async read(bytes, _, folder) {
        const path = join(folder, 'set.jsonl')
        await writeFile(path, bytes)
        return contrastPairs(await readDemonstrationFile(path))
      },
    }
  },
}

const folderFiles = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'genai_config.json'] as const

/** The onnxruntime-genai fixture, for a genai_config.json seed (folders without a config.json read it instead). */
const genaiFolder = join(import.meta.dirname, '../../../shared/fixtures/ortgenai-tiny-llama-fp16')

/**
 * config.json, tokenizer.json, tokenizer_config.json of a tiny model folder and a genai_config.json; one is damaged
 * per case, then the folder's configuration is read and its tokenizer loaded both ways Tiller loads it (the runtime's
 * and the renderer's) and used (encode, decode, chat template).
 */
export const modelJsonFormat: FuzzFormat = {
  name: 'model-json',
  async prepare() {
    const model = await buildTinyModel({ family: 'builder' })
    const sourceOf = (file: string) => join(file === 'genai_config.json' ? genaiFolder : model, file)
    const seeds = folderFiles.map((file) => new Uint8Array(readFileSync(sourceOf(file))))
    return {
      seeds,
      structure: 'json',
      async read(bytes, seedIndex, folder) {
        const damaged = folderFiles[seedIndex] as string
        // A folder has config.json or (onnxruntime-genai exports) genai_config.json; the damaged one decides which.
        const present = folderFiles.filter(
          (file) =>
            file === damaged ||
            (file !== 'genai_config.json' && !(damaged === 'genai_config.json' && file === 'config.json')),
        )
        for (const file of present) {
          if (file === damaged) await writeFile(join(folder, file), bytes)
          else await copyFile(sourceOf(file), join(folder, file))
        }
        readModelConfig(folder)
        // Transformers.js warns on the console about each damaged tokenizer class name; hundreds of cases would
        // bury the test output.
        const warn = console.warn
        console.warn = () => undefined
        try {
          await loadTokenizer(folder)
          const tokenizer = await loadRenderTokenizer(folder)
          const tokens = tokenizer.encode('Fuzz the tokenizer, ünïcode too.', true)
          tokenizer.decode(tokens)
          if (tokenizer.chatTemplate !== undefined) {
            tokenizer.applyChatTemplate([{ role: 'user', content: 'Hello?' }], true)
          }
          return tokens
        } finally {
          console.warn = warn
        }
      },
      async dispose() {
        await rm(dirname(model), { recursive: true, force: true })
      },
    }
  },
}

/** The decoder graph of a tiny model of each family, read as the locator reads it before validation. */
export const onnxGraphFormat: FuzzFormat = {
  name: 'onnx-graph',
  async prepare() {
    const models = [await buildTinyModel({ family: 'builder' }), await buildTinyModel({ family: 'optimum' })]
    const graphs = models.map((model) => join(model, 'onnx', 'model.onnx'))
    return {
      seeds: graphs.map((graph) => new Uint8Array(readFileSync(graph))),
      structure: 'bytes',
      async read(bytes, seedIndex) {
        const graph = graphs[seedIndex] as string
        const model = decodeModel(bytes, graph)
        checkExternalReferences(model, dirname(graph))
        return { sites: locateSites(model), activationType: activationTypeOf(model) }
      },
      async dispose() {
        for (const model of models) await rm(dirname(model), { recursive: true, force: true })
      },
    }
  },
}

export const fuzzFormats: readonly FuzzFormat[] = [
  ggufModelFormat,
  controlVectorFormat,
  editFileFormat,
  activationFileFormat,
  jsonlFormat,
  modelJsonFormat,
  onnxGraphFormat,
]
