import { rm } from 'node:fs/promises'
import * as ort from 'onnxruntime-node'
import { hookSites, type HookSite } from '../../../../shared/edit.ts'
import { TillerError } from '../../errors.ts'
import { elementTypeName, toNumber, type ModelProto, type ValueInfoProto } from '../../onnx/proto.ts'
import { allSites, exposeSites } from './expose.ts'
import { GraphEditor } from './graph-editor.ts'
import { writeDerivedGraph } from './graph-placement.ts'
import { hookOutputName, type LayerSites, type SiteWidths } from './hook-map.ts'

/**
 * The locator's validation pass (RUNTIME-NOTES §2.6 step 4): expose every site, run a 3-token prompt and check
 * shapes `[1, 3, width]` (one width per site kind across layers, residual widths equal, the gate as wide as the
 * MLP product) and the invariant
 * `resid_post[l] = resid_pre[l] + attn_out[l] + mlp_out[l]`.
 */

const promptLength = 3

type Feeds = Record<string, ort.Tensor>

function emptyTensor(info: ValueInfoProto): ort.Tensor {
  const tensorType = info.type?.tensorType
  const type = elementTypeName(tensorType?.elemType ?? 0)
  // Symbolic dims: the first is the batch (1), the others are lengths of an empty cache (0).
  const dims = (tensorType?.shape?.dim ?? []).map((dim, position) =>
    dim.dimValue !== undefined && dim.dimValue !== null && toNumber(dim.dimValue) > 0
      ? toNumber(dim.dimValue)
      : position === 0
        ? 1
        : 0,
  )
  const size = dims.reduce((product, value) => product * value, 1)
  if (type === 'float32') return new ort.Tensor('float32', new Float32Array(size), dims)
  if (type === 'float16') return new ort.Tensor('float16', new Uint16Array(size), dims)
  throw new TillerError(
    'unsupported-tensor-type',
    `Graph input ${info.name} has type ${type}; expected a float cache.`,
  )
}

function dryRunFeeds(model: ModelProto): Feeds {
  const feeds: Feeds = {}
  const sequence = BigInt64Array.from({ length: promptLength }, (_, position) => BigInt(position + 1))
  for (const info of model.graph.input) {
    if (feeds[info.name] !== undefined) continue
    if (info.name === 'input_ids') feeds[info.name] = new ort.Tensor('int64', sequence, [1, promptLength])
    else if (info.name === 'attention_mask') {
      feeds[info.name] = new ort.Tensor('int64', new BigInt64Array(promptLength).fill(1n), [1, promptLength])
    } else if (info.name === 'position_ids') {
      feeds[info.name] = new ort.Tensor(
        'int64',
        sequence.map((value) => value - 1n),
        [1, promptLength],
      )
    } else if (info.name === 'num_logits_to_keep') {
      feeds[info.name] = new ort.Tensor('int64', BigInt64Array.of(1n), [])
    } else if (info.name.startsWith('past_key_values.')) feeds[info.name] = emptyTensor(info)
    else {
      throw new TillerError(
        'unsupported-architecture',
        `The locator's validation pass does not know how to feed graph input ${info.name}.`,
        { subject: info.name },
      )
    }
  }
  return feeds
}

function fail(layer: number, site: HookSite, reason: string): TillerError {
  return new TillerError(
    'unsupported-architecture',
    `Layer ${layer} site ${site}: validation failed — ${reason}.`,
    {
      subject: `layer ${layer} ${site}`,
    },
  )
}

/** ONNX Runtime's own errors (truncated external data, unsupported operators) as one line naming the graph. */
function runtimeFailure(graphPath: string, error: unknown): TillerError {
  if (error instanceof TillerError) return error
  const reason = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ').trim()
  return new TillerError(
    'invalid-model-folder',
    `${graphPath}: ONNX Runtime cannot run the graph to validate its hook sites (${reason}). Check that the ` +
      `folder holds the complete export, the graph and its external data; export or download it again.`,
    { subject: graphPath, cause: error },
  )
}

function checkInvariant(outputs: Record<string, ort.Tensor>, layer: number, tolerance: number): void {
  const value = (site: HookSite): Float32Array => outputs[hookOutputName(site, layer)]?.data as Float32Array
  const [pre, attention, mlp, post] = [
    value('resid_pre'),
    value('attn_out'),
    value('mlp_out'),
    value('resid_post'),
  ]
  let worst = 0
  let scale = 1
  for (let index = 0; index < post.length; index++) {
    const expected = (pre[index] ?? 0) + (attention[index] ?? 0) + (mlp[index] ?? 0)
    worst = Math.max(worst, Math.abs((post[index] ?? 0) - expected))
    scale = Math.max(scale, Math.abs(expected))
  }
  if (!(worst <= tolerance * scale)) {
    throw fail(
      layer,
      'resid_post',
      `resid_post differs from resid_pre + attn_out + mlp_out by ${worst.toExponential(2)}`,
    )
  }
}

/**
 * Run the validation pass on `model` (decoded from `graphPath` of model folder `folder`; its directory holds the
 * external data) and return the measured site widths. The probe graph is written where derived graphs go
 * (graph-placement.ts) and removed afterwards. Throws a TillerError naming the layer and site on any mismatch.
 */
export async function validateSites(
  model: ModelProto,
  folder: string,
  graphPath: string,
  layers: readonly LayerSites[],
  activationType: 'float32' | 'float16',
): Promise<SiteWidths> {
  const editor = new GraphEditor(model)
  const names = exposeSites(editor, layers, allSites(layers.length))
  const probeName = `.tiller-validate-${process.pid}-${Date.now()}.onnx`
  const probePath = await writeDerivedGraph(folder, graphPath, probeName, editor.finish())
  let outputs: Record<string, ort.Tensor>
  try {
    const session = await ort.InferenceSession.create(probePath, { logSeverityLevel: 3 })
    try {
      outputs = await session.run(dryRunFeeds(model), names)
    } finally {
      await session.release()
    }
  } catch (error) {
    throw runtimeFailure(graphPath, error)
  } finally {
    await rm(probePath, { force: true })
  }
  const widths: Partial<SiteWidths> = {}
  layers.forEach((_, layer) => {
    for (const site of hookSites) {
      const dims = outputs[hookOutputName(site, layer)]?.dims ?? []
      const width = dims[2]
      if (dims.length !== 3 || dims[0] !== 1 || dims[1] !== promptLength || width === undefined) {
        throw fail(layer, site, `expected shape [1, ${promptLength}, width], got [${dims.join(', ')}]`)
      }
      const known = widths[site]
      if (known !== undefined && known !== width)
        throw fail(layer, site, `width ${width} differs from layer 0's ${known}`)
      widths[site] = width
    }
    checkInvariant(outputs, layer, activationType === 'float16' ? 4e-3 : 1e-5)
  })
  const complete = widths as SiteWidths
  for (const site of ['resid_pre', 'attn_out', 'mlp_out'] as const) {
    if (complete[site] !== complete.resid_post)
      throw fail(0, site, `width ${complete[site]} is not the hidden size ${complete.resid_post}`)
  }
  // act(gate) and up are multiplied element-wise, so the gate has the intermediate size of the product.
  if (complete.mlp_gate !== complete.mlp_act)
    throw fail(0, 'mlp_gate', `width ${complete.mlp_gate} is not the intermediate size ${complete.mlp_act}`)
  return complete
}
