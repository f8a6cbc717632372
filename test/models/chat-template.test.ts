import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  chatTemplateOf,
  renderChatTemplate,
  renderTemplateText,
  type TemplateMessage,
} from '../../src/main/core/models/chat-template.ts'
import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import { TillerError } from '../../src/main/core/errors.ts'
import { renderPrompt } from '../../src/main/core/runtime/prompt.ts'
import { loadTokenizer } from '../../src/main/core/runtime/tokenizer.ts'
import { llamaFolder, requireFixture } from '../data/fixtures.ts'

const organismFolder = join(import.meta.dirname, '../../resources/models/organism')

/** Templates that ran unbounded or escaped as raw errors before rendering was bounded. */
const hostile: { name: string; template: string; reason: RegExp }[] = [
  {
    name: 'a hundred-million range',
    template: '{% for i in range(100000000) %}x{% endfor %}',
    reason: /range\(\) of 100000000 items/,
  },
  {
    name: 'nested empty loops',
    template: '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
    // The step budget or the clock, whichever comes first on this machine.
    reason: /was stopped: it did not finish within/,
  },
  {
    name: 'a doubling string',
    template:
      "{% set ns = namespace(text='ab') %}{% for i in range(40) %}{% set ns.text = ns.text ~ ns.text %}" +
      '{% endfor %}{{ ns.text }}',
    reason: /text longer than 4000000 characters/,
  },
  {
    name: 'a doubling list',
    template:
      '{% set ns = namespace(list=[1]) %}{% for i in range(40) %}{% set ns.list = ns.list + ns.list %}' +
      '{% endfor %}{{ ns.list | length }}',
    reason: /list longer than 1000000 items/,
  },
  {
    name: 'raise_exception',
    template: "{{ raise_exception('Conversation roles must alternate user/assistant') }}",
    reason: /raised an error: "Conversation roles must alternate user\/assistant"/,
  },
  { name: 'a syntax error', template: '{% for message in %}{% endfor %}', reason: /does not parse/ },
  { name: 'an unknown operator', template: '{{ messages - 1 }}', reason: /failed: .*operator/i },
]

function renderFailure(template: string, source: string): TillerError {
  try {
    renderTemplateText(template, source, { messages: [{ role: 'user', content: 'Hi' }] })
  } catch (error) {
    if (error instanceof TillerError) return error
    throw new Error(`expected a TillerError, got ${String(error)}`, { cause: error })
  }
  throw new Error('the hostile template rendered')
}

describe('hostile chat templates', () => {
  for (const { name, template, reason } of hostile) {
    it(`stops ${name} with one line naming the file`, () => {
      const error = renderFailure(template, '/models/m/tokenizer_config.json')
      expect(error.code).toBe('invalid-chat-template')
      expect(error.subject).toBe('/models/m/tokenizer_config.json')
      expect(error.message).toContain('The chat template in /models/m/tokenizer_config.json ')
      expect(error.message).toMatch(reason)
      expect(error.message).not.toContain('\n')
    })
  }

  it('counts every iteration of a loop, even an empty one, against the step budget', () => {
    const limits = { steps: 10_000, milliseconds: 1e9, characters: 1e6, items: 1e6 }
    const fits = '{% for i in range(4000) %}{% endfor %}'
    expect(renderTemplateText(fits, 'tokenizer_config.json', {}, limits)).toBe('')
    const nested = '{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}'
    expect(() => renderTemplateText(nested, 'tokenizer_config.json', {}, limits)).toThrow(
      /did not finish within 10000 steps/,
    )
  })

  it('stops a template that outlasts its time limit', () => {
    const limits = { steps: 1e12, milliseconds: 0, characters: 1e6, items: 1e6 }
    const template = '{% for i in range(100000) %}{% for j in range(100) %}{% endfor %}{% endfor %}'
    expect(() => renderTemplateText(template, 'tokenizer_config.json', {}, limits)).toThrow(
      /did not finish within 0 ms/,
    )
  })

  it('names tokenizer_config.json of the model folder, for fitting and for generation', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'tiller-hostile-template-'))
    const source = requireFixture(llamaFolder)
    writeFileSync(join(folder, 'tokenizer.json'), readFileSync(join(source, 'tokenizer.json')))
    const config = JSON.parse(readFileSync(join(source, 'tokenizer_config.json'), 'utf8')) as Record<
      string,
      unknown
    >
    config.chat_template = hostile[0]?.template
    writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify(config))
    const configPath = join(folder, 'tokenizer_config.json')

    const renderTokenizer = await loadRenderTokenizer(folder)
    expect(() => renderTokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }], true)).toThrow(
      `The chat template in ${configPath} was stopped: it asked for range() of 100000000 items`,
    )
    const tokenizer = await loadTokenizer(folder)
    expect(() => renderPrompt(tokenizer, 'Hi', { chat: true, maxTokens: 1, contextLength: 64 })).toThrow(
      `The chat template in ${configPath} was stopped`,
    )
  })
})

/** Templates in the shapes real models ship (ChatML, Llama-3, Zephyr), written for this test. */
const shippedShapes = [
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}" +
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
  '{{ bos_token }}{% for message in messages %}{{ "<|start_header_id|>" + message.role + "<|end_header_id|>\\n\\n" + ' +
    'message.content | trim + "<|eot_id|>" }}{% endfor %}{% if add_generation_prompt %}' +
    '{{ "<|start_header_id|>assistant<|end_header_id|>\\n\\n" }}{% endif %}',
  '{% for message in messages %}\n{% if message.role == "user" %}\n{{ "<|user|>\\n" + message.content + eos_token }}\n' +
    '{% elif message.role == "system" %}\n{{ "<|system|>\\n" + message.content + eos_token }}\n{% else %}\n' +
    '{{ "<|assistant|>\\n" + message.content + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n' +
    '{{ "<|assistant|>" }}\n{% endif %}\n{% endfor %}',
]

const conversations: TemplateMessage[][] = [
  [{ role: 'user', content: 'Is the sky blue?\n(A) yes (B) no' }],
  [
    { role: 'system', content: 'Answer briefly.' },
    { role: 'user', content: 'Hello' },
  ],
  [
    { role: 'user', content: 'Hello' },
    { role: 'assistant', content: ' (A) yes ' },
    { role: 'user', content: 'And the grass?' },
  ],
]

function transformersText(
  tokenizer: PreTrainedTokenizer,
  template: string,
  messages: TemplateMessage[],
  addGenerationPrompt: boolean,
): string {
  const rendered: unknown = tokenizer.apply_chat_template(messages, {
    tokenize: false,
    add_generation_prompt: addGenerationPrompt,
    chat_template: template,
  })
  if (typeof rendered !== 'string') throw new Error('apply_chat_template did not return text')
  return rendered
}

describe('real chat templates render exactly as Transformers.js renders them', () => {
  let llama: PreTrainedTokenizer
  let organism: PreTrainedTokenizer
  beforeAll(async () => {
    llama = await AutoTokenizer.from_pretrained(requireFixture(llamaFolder), { local_files_only: true })
    organism = await AutoTokenizer.from_pretrained(requireFixture(organismFolder), { local_files_only: true })
  })

  it("the fixture's Llama-2 template and the organism's template", () => {
    let compared = 0
    for (const tokenizer of [llama, organism]) {
      const template = chatTemplateOf(tokenizer)
      if (template === undefined) throw new Error('a fixture lost its chat template')
      for (const messages of conversations) {
        for (const addGenerationPrompt of [true, false]) {
          const expected = transformersText(tokenizer, template, messages, addGenerationPrompt)
          expect(renderChatTemplate(tokenizer, template, messages, addGenerationPrompt)).toBe(expected)
          compared += 1
        }
      }
    }
    expect(compared).toBe(12)
  })

  it('ChatML, Llama-3 and Zephyr shapes with special tokens', () => {
    for (const template of shippedShapes) {
      for (const messages of conversations) {
        const expected = transformersText(llama, template, messages, true)
        expect(expected.length).toBeGreaterThan(0)
        expect(renderChatTemplate(llama, template, messages, true)).toBe(expected)
      }
    }
  })

  it('the Llama-2 template still raises for roles that do not alternate, now as a TillerError', () => {
    const template = chatTemplateOf(llama) as string
    const messages: TemplateMessage[] = [
      { role: 'user', content: 'a' },
      { role: 'user', content: 'b' },
    ]
    expect(() => transformersText(llama, template, messages, true)).toThrow()
    expect(() => renderChatTemplate(llama, template, messages, true)).toThrow(TillerError)
  })
})
