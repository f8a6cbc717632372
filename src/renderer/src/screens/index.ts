import { defineAsyncComponent, type Component, type FunctionalComponent } from 'vue'
import { icons } from './icons.ts'
import { screenList, type ScreenId } from './screen-list.ts'

export type { ScreenId } from './screen-list.ts'

/**
 * The navigation table: each screen of `screen-list.ts` with its icon and its component, loaded on first visit.
 */
export interface ScreenEntry {
  id: ScreenId
  label: string
  /** One line beside the title in the header, and the navigation's tooltip. */
  summary: string
  icon: FunctionalComponent
  component: Component
  /** Alt+<digit> opens the screen. */
  shortcut: string
}

const components: Record<ScreenId, Component> = {
  models: defineAsyncComponent(() => import('./ModelsScreen.vue')),
  demonstrations: defineAsyncComponent(() => import('./DemonstrationsScreen.vue')),
  fit: defineAsyncComponent(() => import('./FitScreen.vue')),
  evaluate: defineAsyncComponent(() => import('./EvaluateScreen.vue')),
  chat: defineAsyncComponent(() => import('./ChatScreen.vue')),
  compare: defineAsyncComponent(() => import('../components/steer/SteeringWorkbench.vue')),
  edits: defineAsyncComponent(() => import('./EditsScreen.vue')),
}

export const screens: readonly ScreenEntry[] = screenList.map((screen) => ({
  ...screen,
  icon: icons[screen.id],
  component: components[screen.id],
}))

/** The screen with `id`; the Models screen for anything unknown (an old saved address). */
export function screenById(id: string): ScreenEntry {
  return screens.find((screen) => screen.id === id) ?? (screens[0] as ScreenEntry)
}
