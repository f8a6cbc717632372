/**
 * The runtime of `src/main/core/runtime/`, the fit pipeline and the steered generator behind the engine's seam.
 * Loaded with dynamic imports so hosts that only need the transport (tests with a fake runtime) never load ONNX
 * Runtime.
 *
 * Each loaded model keeps at most one steered session (the compiled graph of the edit compared last, or of the
 * chat's edit stack): the same edits again reuse it, others replace it, and disposing the model releases it.
 */
import type { ChatReply } from '../../../shared/chat.ts'
import type { Edit } from '../../../shared/edit.ts'
import { fingerprintModel } from '../edits/fingerprint.ts'
import type { SteeredModel } from '../edits/steered-generation.ts'
import { TillerError } from '../errors.ts'
import type { GenerationResult } from '../runtime/generate.ts'
import type { LoadedModel } from '../runtime/model.ts'
import type { EngineRuntime } from './engine-runtime.ts'

/** The steered session of one base model: which edits it was compiled for, and the session (once loaded). */
interface SteeredSlot {
  key: string
  steered: Promise<SteeredModel>
}

/** When each row's first token arrived, in milliseconds after `start`. */
class FirstTokenClock {
  private readonly start = performance.now()
  private readonly arrivals = new Map<number, number>()

  mark(row: number): void {
    if (!this.arrivals.has(row)) this.arrivals.set(row, performance.now() - this.start)
  }

  /** Row `row`'s time to first token; a row that never streamed (cancelled at once) counts its prefill. */
  of(row: number, result: GenerationResult): number {
    return this.arrivals.get(row) ?? result.timing.prefillMs
  }
}

function replyOf(result: GenerationResult, timeToFirstTokenMs: number): ChatReply {
  return {
    text: result.text,
    finishReason: result.finishReason,
    generatedTokens: result.generated.length,
    tokensPerSecond: result.timing.tokensPerSecond,
    timeToFirstTokenMs,
  }
}

/** Create the real runtime. */
export async function createRealRuntime(): Promise<EngineRuntime<LoadedModel>> {
  const [
    providers,
    models,
    generation,
    prompts,
    versions,
    defaults,
    pipeline,
    steering,
    conversations,
    diagnosis,
    evaluation,
    tokenizers,
  ] = await Promise.all([
    import('../runtime/providers.ts'),
    import('../runtime/model.ts'),
    import('../runtime/generate.ts'),
    import('../runtime/prompt.ts'),
    import('../runtime/versions.ts'),
    import('../models/default-model.ts'),
    import('../fitting/fit-pipeline.ts'),
    import('../edits/steered-generation.ts'),
    import('../runtime/conversation.ts'),
    import('../fitting/layer-diagnosis.ts'),
    import('../eval/edit-evaluation.ts'),
    import('../data/tokenizer.ts'),
  ])
  const slots = new WeakMap<LoadedModel, SteeredSlot>()

  const releaseSlot = async (model: LoadedModel): Promise<void> => {
    const slot = slots.get(model)
    slots.delete(model)
    if (slot === undefined) return
    const steered = await slot.steered.catch(() => null)
    await steered?.model.dispose()
  }

  /**
   * The steered session of `edits` on `model`, compiling and loading it when other edits (or none) are there.
   * `strengthPerEdit` gives each edit its own strength (the chat's stack).
   */
  const steeredFor = async (
    model: LoadedModel,
    edits: readonly Edit[],
    strengthPerEdit: boolean,
  ): Promise<SteeredModel> => {
    const key = `${strengthPerEdit ? 'stack' : 'single'}:${edits.map((edit) => edit.id).join('|')}`
    const slot = slots.get(model)
    if (slot?.key === key) return slot.steered
    await releaseSlot(model)
    const steered = steering.loadSteeredModel(model.folder, edits, {
      provider: model.providerChoice,
      strengthPerEdit,
      graphFile: model.baseGraphFile,
    })
    slots.set(model, { key, steered })
    // A failed compile must not stick: the next compare tries again.
    steered.catch(() => {
      if (slots.get(model)?.steered === steered) slots.delete(model)
    })
    return steered
  }

  /** Room for `maxTokens` new tokens within the model's context: what a rendered prompt may take. */
  const limitsOf = (model: LoadedModel, maxTokens: number) => ({
    maxTokens,
    contextLength: model.config.maxPositionEmbeddings,
  })

  /** One prompt (plain, or through the chat template when `chat`) as the model reads it. */
  const renderRequest = (
    model: LoadedModel,
    request: { prompt: string; chat: boolean; options: { maxTokens: number } },
  ) =>
    prompts.renderPrompt(model.tokenizer, request.prompt, {
      chat: request.chat,
      ...limitsOf(model, request.options.maxTokens),
    })

  return {
    versions: versions.runtimeVersions,
    probeProviders: providers.probeProviders,
    defaultModelFolder: defaults.defaultModelFolder,
    async loadModel(folder, options) {
      const model = await models.loadModel(folder, { provider: options.provider, variant: options.variant })
      // Wrapped in place, not copied: sessions created later (the decode session, capture's kept graphs) are set on
      // this object, and its own dispose releases what it holds.
      const release = model.dispose
      model.dispose = async () => {
        await releaseSlot(model)
        await release()
      }
      return model
    },

    async generate(model, request) {
      const rendered = renderRequest(model, request)
      const [row] = await generation.generate(model, {
        rows: [rendered.ids],
        options: request.options,
        signal: request.signal,
        onToken: (event) => request.onToken(event.row, event.token, event.text),
      })
      if (row === undefined) throw new TillerError('internal', 'Generation returned no row for the prompt.')
      return {
        text: row.text,
        finishReason: row.finishReason,
        promptTokens: row.promptTokens,
        generatedTokens: row.generated.length,
        tokensPerSecond: row.timing.tokensPerSecond,
        prefillMilliseconds: row.timing.prefillMs,
        decodeMilliseconds: row.timing.decodeMs,
      }
    },

    fingerprint: (model) => fingerprintModel(model.folder, model.baseGraphFile),

    async fit(model, request) {
      return pipeline.fitFromDemonstrations({
        model,
        data: request.dataset,
        method: request.method,
        options: request.options,
        fingerprint: request.fingerprint,
        signal: request.signal,
        onProgress: (progress) => request.onProgress(progress.fraction, progress.message),
      })
    },

    async compare(model, request) {
      const steered = await steeredFor(model, [request.edit], false)
      if (request.signal.aborted) throw new TillerError('cancelled', 'The comparison was cancelled.')
      // The base model's tokenizer and context: the steered graph shares both.
      const rendered = renderRequest(model, request)
      const results = await steering.generateSteered(steered, {
        rows: request.strengths.map(() => rendered.ids),
        strengths: request.strengths,
        options: request.options,
        signal: request.signal,
        onToken: (event) => request.onToken(event.row, event.token, event.text),
      })
      return {
        promptTokens: rendered.ids.length,
        tokensPerSecond: results[0]?.timing.tokensPerSecond ?? 0,
        rows: results.map((result, row) => ({
          strength: request.strengths[row] ?? 0,
          text: result.text,
          finishReason: result.finishReason,
          generatedTokens: result.generated.length,
        })),
      }
    },

    async chat(model, request) {
      const limits = limitsOf(model, request.options.maxTokens)
      const render = (column: 'base' | 'steered') =>
        conversations.renderConversation(
          model.tokenizer,
          {
            systemPrompt: request.systemPrompt,
            history: request.history.map((exchange) => ({
              user: exchange.user,
              assistant: exchange[column],
            })),
            message: request.message,
          },
          limits,
        )
      const base = render('base')
      const seed = request.options.seed
      if (request.edits.length === 0) {
        const clock = new FirstTokenClock()
        const [row] = await generation.generate(model, {
          rows: [base.ids],
          options: request.options,
          signal: request.signal,
          onToken: (event) => {
            clock.mark(event.row)
            request.onToken('base', event.text)
          },
        })
        if (row === undefined)
          throw new TillerError('internal', 'Generation returned no row for the message.')
        return {
          base: replyOf(row, clock.of(0, row)),
          steered: null,
          seed,
          promptTokens: { base: base.ids.length, steered: null },
          droppedTurns: base.droppedTurns,
        }
      }
      const steeredPrompt = render('steered')
      const steered = await steeredFor(
        model,
        request.edits.map((entry) => entry.edit),
        true,
      )
      if (request.signal.aborted) throw new TillerError('cancelled', 'The reply was cancelled.')
      const clock = new FirstTokenClock()
      // Row 0 runs at strength 0 (the base model exactly), row 1 at 1 with each edit's own strength.
      const [baseRow, steeredRow] = await steering.generateSteered(steered, {
        rows: [base.ids, steeredPrompt.ids],
        strengths: [0, 1],
        editStrengths: [request.edits.map(() => 0), request.edits.map((entry) => entry.strength)],
        options: request.options,
        signal: request.signal,
        onToken: (event) => {
          clock.mark(event.row)
          request.onToken(event.row === 0 ? 'base' : 'steered', event.text)
        },
      })
      if (baseRow === undefined || steeredRow === undefined) {
        throw new TillerError('internal', 'Generation returned fewer rows than the two chat columns.')
      }
      return {
        base: replyOf(baseRow, clock.of(0, baseRow)),
        steered: replyOf(steeredRow, clock.of(1, steeredRow)),
        seed,
        promptTokens: { base: base.ids.length, steered: steeredPrompt.ids.length },
        droppedTurns: Math.max(base.droppedTurns, steeredPrompt.droppedTurns),
      }
    },

    async diagnoseLayers(model, request) {
      return diagnosis.diagnoseLayers({
        model,
        data: request.dataset,
        method: request.method,
        options: request.options,
        maxPairs: request.maxPairs,
        fingerprint: request.fingerprint,
        edit: request.edit,
        compareWith: request.compareWith,
        signal: request.signal,
        onProgress: request.onProgress,
      })
    },

    async evaluateEdit(model, request) {
      // Its own steered session, released afterwards: a comparison may switch the shared one mid-evaluation.
      const steered = await steering.loadSteeredModel(model.folder, [request.edit], {
        provider: model.providerChoice,
        graphFile: model.baseGraphFile,
      })
      try {
        return await evaluation.evaluateEdit({
          steered,
          tokenizer: await tokenizers.loadRenderTokenizer(model.folder),
          data: request.dataset,
          sideSets: request.sideSets,
          text: request.text,
          strengths: request.strengths,
          fluencyLimit: request.fluencyLimit,
          itemLimit: request.itemLimit,
          signal: request.signal,
          onProgress: request.onProgress,
        })
      } finally {
        await steered.model.dispose()
      }
    },
  }
}
