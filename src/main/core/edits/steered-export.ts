import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { copyFile, mkdir } from 'node:fs/promises'
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path'
import type { PositionPolicy } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'
import { graphFileOf, resolveGraphPath } from '../models/locator/graph-file.ts'
import { modelFiles } from '../models/graph-contract.ts'
import {
  externalDataInfo,
  loadModel as loadGraph,
  resolveLocation,
  saveModel,
  setExternalData,
} from '../onnx/external-data.ts'
import type { ModelProto } from '../onnx/proto.ts'
import { isExternal } from '../onnx/tensor.ts'
import { replaceFolderAtomic } from '../workspace/folder-swap.ts'
import { mirrorFile } from '../workspace/mirror-file.ts'
import { compileEdits } from './compiler/compile.ts'
import type { EditFile } from './edit-file.ts'
import { toolVersion } from './edit-file.ts'
import { bakeRuntimeInputs, checkExportablePolicies, inGraphMaskSemantics } from './in-graph-inputs.ts'

/**
 * `tiller export --onnx`: a standalone model folder with an edit compiled in, which Transformers.js and plain ONNX
 * Runtime load and run unchanged. The compiled steered graph's runtime inputs become in-graph values
 * (in-graph-inputs.ts), so the graph takes exactly the base model's inputs; strength is baked in as a constant,
 * because a Node caller cannot override an initializer that is also a graph input (RUNTIME-NOTES §4.6).
 *
 * The folder: the graph as `onnx/model.onnx` (or the Transformers.js dtype name of the source, e.g.
 * `onnx/model_fp16.onnx`), its weights as `<graph>_data` (hard-linked from the source when the file system
 * allows, else copied; the source is never written), the source folder's other top-level files (config.json —
 * with `transformers.js_config.use_external_data_format` set to match —, generation_config.json, tokenizer
 * files), and `tiller-edit.json` recording the edit, strength and mask semantics. Built in a staging folder and
 * renamed into place.
 */

/** The record written into every exported folder. */
export const exportRecordFile = 'tiller-edit.json'

/** Options of {@link exportSteeredModel}. */
export interface SteeredExportOptions {
  /** The strength baked into the graph (default: the edit's default strength). */
  strength?: number
  /** Replace an existing non-empty output folder. */
  force?: boolean
}

/** What {@link exportSteeredModel} wrote. */
export interface SteeredExport {
  out: string
  /** The graph, relative to `out`, e.g. `onnx/model.onnx`. */
  graphFile: string
  /** Its external data files, relative to `out`. */
  dataFiles: string[]
  strength: number
  policies: PositionPolicy[]
}

/** Any byte size: an export copies its weights whole when they cannot be linked. */
const unlimitedCopy = Number.MAX_SAFE_INTEGER

function isInside(parent: string, child: string): boolean {
  const path = relative(parent, child)
  return path === '' || (path !== '..' && !path.startsWith(`..${sep}`) && !isAbsolute(path))
}

/** Refuse an output folder that is a file, non-empty without `force`, or would swallow the source folder. */
function checkOutputFolder(folder: string, out: string, force: boolean): void {
  if (isInside(resolve(out), resolve(folder))) {
    throw new TillerError(
      'invalid-argument',
      `--onnx ${out} is or contains the model folder ${folder}; choose a separate output folder.`,
      { subject: out },
    )
  }
  if (!existsSync(out)) return
  if (!statSync(out).isDirectory()) {
    throw new TillerError(
      'invalid-argument',
      `${out} exists and is not a folder; choose another --onnx folder.`,
      {
        subject: out,
      },
    )
  }
  if (readdirSync(out).length > 0 && !force) {
    throw new TillerError(
      'invalid-argument',
      `${out} already exists and is not empty; choose another folder or pass --force to replace it.`,
      { subject: out },
    )
  }
}

/** The exported graph's name: the source's own when it is a Transformers.js name (`model*.onnx`), else model.onnx. */
function exportedGraphName(sourceGraph: string): string {
  const name = basename(sourceGraph)
  return /^model(_[a-z0-9]+)?\.onnx$/.test(name) ? name : basename(modelFiles.graph)
}

/**
 * Point `model`'s external tensors at `<graphName>_data`, `<graphName>_data_1`, … (Transformers.js chunk names),
 * one per distinct source location; returns source location → new name, in first-use order.
 */
function renameDataFiles(model: ModelProto, graphName: string): Map<string, string> {
  const names = new Map<string, string>()
  for (const tensor of model.graph.initializer) {
    if (!isExternal(tensor)) continue
    const info = externalDataInfo(tensor)
    let name = names.get(info.location)
    if (name === undefined) {
      name = names.size === 0 ? `${graphName}_data` : `${graphName}_data_${names.size}`
      names.set(info.location, name)
    }
    setExternalData(tensor, { ...info, location: name })
  }
  return names
}

/** config.json with `transformers.js_config.use_external_data_format` matching the data files written. */
function exportedConfig(raw: Record<string, unknown>, dataFiles: number): Record<string, unknown> {
  const section = raw['transformers.js_config']
  const transformers = typeof section === 'object' && section !== null ? { ...section } : {}
  const format = dataFiles === 0 ? false : dataFiles === 1 ? true : dataFiles
  return { ...raw, 'transformers.js_config': { ...transformers, use_external_data_format: format } }
}

/** Copy the source folder's top-level files except graphs and their data (config.json is rewritten). */
async function copyFolderFiles(folder: string, staging: string, skipped: ReadonlySet<string>): Promise<void> {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.endsWith('.onnx') || skipped.has(entry.name)) continue
    if (entry.name === modelFiles.config || entry.name === exportRecordFile) continue
    await copyFile(join(folder, entry.name), join(staging, entry.name))
  }
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n')
}

/**
 * Export `editFile` (already checked against `folder`'s model) compiled into `folder`'s decoder graph as a
 * standalone model folder at `out`.
 */
export async function exportSteeredModel(
  folder: string,
  editFile: EditFile,
  out: string,
  options: SteeredExportOptions = {},
): Promise<SteeredExport> {
  const { edit, manifest } = editFile
  const strength = options.strength ?? manifest.strength.default
  checkOutputFolder(folder, out, options.force === true)
  edit.interventions.forEach((intervention, index) =>
    checkExportablePolicies([intervention.positions], `Intervention ${index} of edit ${edit.id}`),
  )
  const patched = edit.interventions.findIndex((intervention) => intervention.op.kind === 'patch')
  if (patched >= 0) {
    throw new TillerError(
      'unrepresentable-edit',
      `Edit ${edit.id} uses SADI mode=patch, which needs a clean pass over each prompt before the steered one ` +
        'and cannot run inside one standalone graph; refit with mode=live to export it.',
      { subject: `interventions[${patched}]` },
    )
  }
  const sourceGraph = resolveGraphPath(folder)
  const source = await loadGraph(sourceGraph)
  const compiled = await compileEdits(folder, [edit])
  const { model, directory } = await loadGraph(compiled.graphPath)
  bakeRuntimeInputs(model, compiled, strength)
  const expected = source.model.graph.input.map((input) => input.name)
  const actual = model.graph.input.map((input) => input.name)
  if (expected.join('\n') !== actual.join('\n')) {
    throw new TillerError(
      'internal',
      `The exported graph's inputs (${actual.join(', ')}) differ from the model's (${expected.join(', ')}).`,
    )
  }
  const graphName = exportedGraphName(sourceGraph)
  const graphFile = `onnx/${graphName}`
  const dataNames = renameDataFiles(model, graphName)
  const sourceData = new Set(
    [...dataNames.keys()].map((location) => basename(resolveLocation(directory, location))),
  )
  const configPath = join(folder, modelFiles.config)
  await replaceFolderAtomic(out, async (staging) => {
    const onnxFolder = join(staging, 'onnx')
    await mkdir(onnxFolder)
    for (const [location, name] of dataNames) {
      await mirrorFile(resolveLocation(directory, location), join(onnxFolder, name), {
        copyLimitBytes: unlimitedCopy,
      })
    }
    await saveModel(model, join(onnxFolder, graphName))
    await copyFolderFiles(folder, staging, sourceData)
    if (existsSync(configPath)) {
      const raw = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>
      writeJson(join(staging, modelFiles.config), exportedConfig(raw, dataNames.size))
    }
    writeJson(join(staging, exportRecordFile), {
      format: 'tiller-steered-model',
      version: 1,
      tool: toolVersion,
      source: { folder: resolve(folder), graph: graphFileOf(folder, sourceGraph) },
      graph: graphFile,
      strength: {
        value: strength,
        baked: true,
        default: manifest.strength.default,
        semantics: manifest.strength.semantics,
        note: 'a constant in the graph; export again for another strength (strength 0 is the base model exactly)',
      },
      inputs: actual,
      masks: compiled.policies.map((policy) => ({ policy, semantics: inGraphMaskSemantics(policy) })),
      runner:
        'the prompt is fed in one call (past length 0) and each later call continues it, as Transformers.js ' +
        'generate() and ONNX Runtime decode loops do; left padding is read from attention_mask',
      edit: manifest,
    })
  })
  return {
    out,
    graphFile,
    dataFiles: [...dataNames.values()].map((name) => `onnx/${name}`),
    strength,
    policies: compiled.policies,
  }
}
