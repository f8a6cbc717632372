import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { MethodDescription } from '../../../shared/steering.ts'
import { useClient } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { messageOf } from '../errors.ts'

/** The method a new user starts with: the most robust estimator for small sets. */
const preferredMethod = 'mean-diff'

/** Parse "1, 3 5" into block numbers; null when any part is not a whole number. */
function parseLayers(text: string): number[] | null {
  const parts = text.split(/[\s,]+/).filter((part) => part !== '')
  const layers = parts.map(Number)
  return layers.every((layer) => Number.isInteger(layer) && layer >= 0) ? layers : null
}

/**
 * The fitting methods, the chosen one, and the option values a fit form edits. Each screen with a fit form has
 * its own store over this state, so choosing on one screen leaves the other's choice alone.
 */
function methodChoice() {
  const client = useClient()
  const methods = ref<MethodDescription[]>([])
  const layerCount = ref<number | null>(null)
  const selectedId = ref<string>(preferredMethod)
  /** Option values other than layers, as the form holds them. */
  const values = ref<Record<string, unknown>>({})
  /** The layers field: empty means the method's default layers. */
  const layersText = ref('')
  const error = ref<string | null>(null)
  let initialized = false

  const selected = computed(() => methods.value.find((method) => method.id === selectedId.value) ?? null)
  /** Options shown as fields besides the layers field. */
  const fields = computed(() => selected.value?.options.filter((option) => option.kind !== 'layers') ?? [])
  const maxLayers = computed(
    () => selected.value?.options.find((option) => option.kind === 'layers')?.maxItems,
  )

  /** Why the layers field cannot be sent, or null when it can. */
  const layersProblem = computed((): string | null => {
    if (layersText.value.trim() === '') return null
    const layers = parseLayers(layersText.value)
    if (layers === null) return 'Layers are whole numbers separated by commas, e.g. 2, 3.'
    const count = layerCount.value
    const outside = count === null ? undefined : layers.find((layer) => layer >= count)
    if (outside !== undefined && count !== null)
      return `Layer ${outside} does not exist; the model has 0…${count - 1}.`
    if (maxLayers.value !== undefined && layers.length > maxLayers.value) {
      return `This method fits at ${maxLayers.value === 1 ? 'one layer' : `${maxLayers.value} layers at most`}.`
    }
    return null
  })

  /** The options object `edit:fit` receives: the form's values, plus layers when the field is filled. */
  const fitOptions = computed((): Record<string, unknown> => {
    const options: Record<string, unknown> = { ...values.value }
    const layers = parseLayers(layersText.value)
    if (layersText.value.trim() !== '' && layers !== null) options['layers'] = layers
    return options
  })

  function resetValues(): void {
    const method = selected.value
    const next: Record<string, unknown> = {}
    for (const option of method?.options ?? []) {
      if (option.kind !== 'layers' && option.default !== null) next[option.name] = option.default
    }
    values.value = next
    layersText.value = ''
  }

  /** Choose a method; its options start at their defaults. */
  function select(id: string): void {
    selectedId.value = id
    resetValues()
  }

  /** Read the methods (and the default layers for the loaded model). */
  async function refresh(): Promise<void> {
    try {
      const answer = await client['methods:list']({})
      methods.value = answer.methods
      layerCount.value = answer.layerCount
      error.value = null
      if (selected.value === null) selectedId.value = answer.methods[0]?.id ?? preferredMethod
      if (!initialized) resetValues()
      initialized = true
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  // Default layers depend on the model's depth.
  useContractEvent('model:changed', () => void refresh())

  return {
    methods,
    layerCount,
    selectedId,
    selected,
    fields,
    values,
    layersText,
    layersProblem,
    fitOptions,
    error,
    select,
    refresh,
  }
}

/** The Compare screen's workbench choice. */
export const useMethodsStore = defineStore('methods', methodChoice)

/** The Fit screen's own choice. */
export const useFitMethodsStore = defineStore('fit-methods', methodChoice)
