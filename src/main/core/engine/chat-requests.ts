/**
 * The Chat screen's side of the contract: saved conversations (the workspace's `chats` folder) and `chat:send`,
 * which answers the next message in the base and steered columns as two rows of one batch. Everything checkable
 * before the job starts (empty message, unknown edit, edit fitted on another model) comes back as the request's
 * error; one reply runs at a time, a new one replacing the running one.
 */
import { parseRequestArgs, type ContractEvent, type ContractService } from '../../../shared/contract.ts'
import type { ModelFingerprint } from '../../../shared/edit.ts'
import {
  deleteConversation,
  listConversations,
  loadConversation,
  saveConversation,
} from '../chats/chat-files.ts'
import { checkFingerprint } from '../edits/fingerprint.ts'
import { TillerError } from '../errors.ts'
import type { JobRegistry } from '../jobs/job-registry.ts'
import { workspaceFolder } from '../workspace/workspace-root.ts'
import type { EditStore } from './edit-store.ts'
import type { EngineModel, EngineRuntime, EngineStackedEdit } from './engine-runtime.ts'

/** What the chat requests need from the engine that hosts them. */
export interface ChatContext<Model extends EngineModel> {
  runtime: EngineRuntime<Model>
  jobs: JobRegistry
  emit(event: ContractEvent): void
  readyModel(action: string): Model
  editStore: EditStore
  fingerprintOf(model: Model): Promise<ModelFingerprint>
  /** Where conversations are saved; default the workspace's `chats` folder (read when each request runs). */
  chatsDirectory?: string
}

type ChatRequestName = 'chat:list' | 'chat:load' | 'chat:save' | 'chat:delete' | 'chat:send'

/** The chat requests of the contract. */
export type ChatRequests = Pick<ContractService, ChatRequestName>

function label(message: string): string {
  const line = message.replace(/\s+/g, ' ').trim()
  return line.length > 60 ? `${line.slice(0, 57)}…` : line
}

/** Create the chat requests over `context`. */
export function createChatRequests<Model extends EngineModel>(context: ChatContext<Model>): ChatRequests {
  const { runtime, jobs } = context
  const folder = (): string => context.chatsDirectory ?? workspaceFolder('chats')

  return {
    async 'chat:list'(args) {
      parseRequestArgs('chat:list', args)
      return listConversations(folder())
    },

    async 'chat:load'(args) {
      const { id } = parseRequestArgs('chat:load', args)
      return loadConversation(folder(), id)
    },

    async 'chat:save'(args) {
      const { conversation } = parseRequestArgs('chat:save', args)
      return saveConversation(folder(), conversation)
    },

    async 'chat:delete'(args) {
      const { id } = parseRequestArgs('chat:delete', args)
      return { deleted: await deleteConversation(folder(), id) }
    },

    async 'chat:send'(args) {
      const request = parseRequestArgs('chat:send', args)
      if (request.message.trim() === '') {
        throw new TillerError('empty-prompt', 'The message is empty. Type a message to send.', {
          subject: 'message',
        })
      }
      const model = context.readyModel('chat')
      // A stack with every edit switched off is the base column alone: no steered graph to build.
      const stack = request.edits.some((entry) => entry.enabled) ? request.edits : []
      const fingerprint = stack.length > 0 ? await context.fingerprintOf(model) : null
      const edits: EngineStackedEdit[] = stack.map((entry, position) => {
        let stored
        try {
          stored = context.editStore.get(entry.id)
        } catch (error) {
          if (error instanceof TillerError) {
            throw new TillerError(
              error.code,
              `${entry.label || entry.id} is not held by the engine any more; fit or load it again, or remove it from the stack.`,
              { subject: `edits.${position}` },
            )
          }
          throw error
        }
        if (fingerprint !== null) {
          checkFingerprint(
            fingerprint,
            stored.edit.model,
            stored.path ?? `The edit ${entry.label || entry.id}`,
          )
        }
        return { edit: stored.edit, strength: entry.enabled ? entry.strength : 0 }
      })
      // Comparisons and replies share the model's one steered session: a new reply replaces either.
      const previous = [...jobs.list('chat'), ...jobs.list('compare')].map((job) => job.id)
      for (const id of previous) jobs.cancel(id)
      return jobs.start('chat', label(request.message), async ({ id, signal, progress }) => {
        await Promise.all(previous.map((job) => jobs.settled(job)))
        progress(null, edits.length > 0 ? 'Preparing the steered model…' : 'Generating…')
        let generating = false
        return runtime.chat(model, {
          systemPrompt: request.systemPrompt,
          history: request.history.map((exchange) => ({
            user: exchange.user,
            base: exchange.base,
            steered: exchange.steered ?? exchange.base,
          })),
          message: request.message,
          edits,
          options: request.options,
          signal,
          onToken: (column, text) => {
            if (!generating) progress(null, 'Generating…')
            generating = true
            context.emit({ name: 'chat:token', payload: { job: id, column, text } })
          },
        })
      })
    },
  }
}
