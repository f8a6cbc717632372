/**
 * The Demonstrations screen's side of the contract: the workspace's `datasets` folder as editable sets (list, open,
 * validate, save, delete), imports through the existing converters, export, and the rendered template text of a row
 * for the loaded model. Validation is always `validateForFit`, the fit's own.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseRequestArgs, type ContractService } from '../../../shared/contract.ts'
import type { ImportFormat, RenderPreview, RenderedSide } from '../../../shared/demonstrations.ts'
import { canonicalJsonl } from '../data/hash.ts'
import { importCaaFile, importPlainPairs } from '../data/importers.ts'
import { pairsFromChoices } from '../data/importers/choice-pairs.ts'
import { pairsFromCsv, pairsToCsv } from '../data/importers/pairs-csv.ts'
import { importTruthfulQa } from '../data/importers/truthfulqa.ts'
import { readDemonstrationFile } from '../data/jsonl.ts'
import { renderPairs, type RenderedSequence, type RenderTokenizer } from '../data/render.ts'
import { loadRenderTokenizer } from '../data/tokenizer.ts'
import { TillerError } from '../errors.ts'
import { writeFileAtomic } from '../workspace/atomic-write.ts'
import { readUserFile } from '../workspace/read-file.ts'
import { workspaceFolder } from '../workspace/workspace-root.ts'
import { listDatasets } from './dataset-catalog.ts'
import {
  datasetPath,
  deleteDocument,
  openDocument,
  rowsJsonl,
  saveDocument,
  saveImported,
  validateRows,
} from './dataset-documents.ts'
import type { EngineModel } from './engine-runtime.ts'

/** What the demonstration requests need from the engine. */
export interface DemonstrationContext<Model extends EngineModel> {
  /** The loaded model when ready; otherwise a `model-not-loaded` error. */
  readyModel(action: string): Model
  /** The datasets folder; default the workspace's. */
  datasetsDirectory?: string | undefined
}

type DemonstrationRequestName =
  | 'demonstrations:list'
  | 'demonstrations:open'
  | 'demonstrations:validate'
  | 'demonstrations:save'
  | 'demonstrations:delete'
  | 'demonstrations:import'
  | 'demonstrations:export'
  | 'demonstrations:render'

export type DemonstrationRequests = Pick<ContractService, DemonstrationRequestName>

async function readText(path: string): Promise<string> {
  const bytes = await readUserFile(path, 'the file to import')
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new TillerError(
      'invalid-dataset',
      `${path} is not UTF-8 text; save it as UTF-8 and import again.`,
      {
        subject: 'paths',
      },
    )
  }
}

/** The JSONL text a new set gets from `paths` in `format`. */
async function importedText(
  format: ImportFormat,
  paths: string[],
  target: 'mc1' | 'mc2' | 'pairs',
  negatives: 'each' | 'first',
): Promise<string> {
  const [first, second] = paths.map((path) => resolve(path)) as [string, string | undefined]
  switch (format) {
    case 'jsonl':
      // Copied as written, so bad rows arrive flagged in the table rather than refused.
      return readText(first)
    case 'csv':
      return rowsJsonl(pairsFromCsv(await readText(first), first))
    case 'truthfulqa':
      return canonicalJsonl(await importTruthfulQa(first, target, negatives))
    case 'caa':
      return canonicalJsonl(await importCaaFile(first))
    case 'plain-text':
      if (second === undefined) {
        throw new TillerError(
          'invalid-argument',
          'Plain-text import takes two files: the positive examples and the negative ones, one per line.',
          { subject: 'paths' },
        )
      }
      return canonicalJsonl(await importPlainPairs(first, second))
    case 'pairs-from-mc': {
      const set = await readDemonstrationFile(first)
      if (set.kind !== 'choices') {
        throw new TillerError(
          'invalid-dataset',
          `${first} holds ${set.kind} rows; making pairs needs multiple-choice items (question, choices, correct).`,
          { subject: 'paths' },
        )
      }
      return canonicalJsonl(pairsFromChoices(set, negatives, 'plain'))
    }
  }
}

function sideOf(tokenizer: RenderTokenizer, sequence: RenderedSequence): RenderedSide {
  return {
    text: sequence.text,
    tokens: sequence.tokenIds.map((id, index) => ({
      id,
      text: tokenizer.decode([id]),
      part:
        index < sequence.prompt.end
          ? 'prompt'
          : index < sequence.completion.end || sequence.completion.end === sequence.completion.start
            ? 'completion'
            : 'after',
    })),
  }
}

/** Create the demonstration requests. */
export function createDemonstrationRequests<Model extends EngineModel>(
  context: DemonstrationContext<Model>,
): DemonstrationRequests {
  const folder = (): string => context.datasetsDirectory ?? workspaceFolder('datasets')
  // The tokenizer of the model last rendered for; loading one reads tokenizer.json, so it is kept.
  let tokenizer: { path: string; value: Promise<RenderTokenizer> } | null = null

  return {
    async 'demonstrations:list'(args) {
      parseRequestArgs('demonstrations:list', args)
      const directory = folder()
      await mkdir(directory, { recursive: true })
      const hasSets = (await readdir(directory)).some((name) => name.toLowerCase().endsWith('.jsonl'))
      const datasets = hasSets ? await listDatasets(null, directory) : []
      return { datasets, bundledDirectory: null }
    },

    async 'demonstrations:open'(args) {
      const { name } = parseRequestArgs('demonstrations:open', args)
      return openDocument(folder(), name)
    },

    async 'demonstrations:validate'(args) {
      const { rows } = parseRequestArgs('demonstrations:validate', args)
      return validateRows(rows, 'the table')
    },

    async 'demonstrations:save'(args) {
      const { name, rows, create } = parseRequestArgs('demonstrations:save', args)
      return saveDocument(folder(), name, rows, create)
    },

    async 'demonstrations:delete'(args) {
      const { name } = parseRequestArgs('demonstrations:delete', args)
      return { deleted: await deleteDocument(folder(), name) }
    },

    async 'demonstrations:import'(args) {
      const request = parseRequestArgs('demonstrations:import', args)
      const text = await importedText(
        request.format,
        request.paths,
        request.truthfulqaTarget,
        request.negatives,
      )
      return saveImported(folder(), request.name, text, request.paths[0] as string)
    },

    async 'demonstrations:export'(args) {
      const { name, path } = parseRequestArgs('demonstrations:export', args)
      const source = datasetPath(folder(), name)
      const target = resolve(path)
      const document = await openDocument(folder(), name)
      let content: string | Uint8Array
      if (target.toLowerCase().endsWith('.csv')) {
        if (!document.editable) {
          throw new TillerError(
            'invalid-argument',
            `"${name}" holds ${document.entry.kind} rows; CSV export writes contrast pairs. Export it as .jsonl.`,
            { subject: 'path' },
          )
        }
        content = pairsToCsv(document.rows)
      } else if (target.toLowerCase().endsWith('.jsonl')) {
        content = await readFile(source)
      } else {
        throw new TillerError('invalid-argument', `${target}: end the file name in .jsonl or .csv.`, {
          subject: 'path',
        })
      }
      await mkdir(dirname(target), { recursive: true })
      await writeFileAtomic(target, content)
      return { path: target, bytes: (await stat(target)).size }
    },

    async 'demonstrations:render'(args) {
      const { row } = parseRequestArgs('demonstrations:render', args)
      const model = context.readyModel('render a demonstration')
      const path = model.info.path
      if (tokenizer?.path !== path) tokenizer = { path, value: loadRenderTokenizer(path) }
      const loaded = await tokenizer.value
      const pair = {
        id: row.id || 'row',
        lines: [1],
        positive: { prompt: row.prompt, completion: row.positive },
        negative: { prompt: row.prompt, completion: row.negative },
      }
      const [example] = renderPairs([pair], loaded, 'this row').examples
      if (example === undefined) throw new TillerError('invalid-dataset', 'The row rendered to nothing.')
      const preview: RenderPreview = {
        format: loaded.chatTemplate === undefined ? 'plain' : 'chat-template',
        positive: sideOf(loaded, example.positive),
        negative: sideOf(loaded, example.negative),
      }
      return preview
    },
  }
}
