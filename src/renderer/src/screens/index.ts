import { defineAsyncComponent, type Component, type FunctionalComponent } from 'vue'
import { icons } from './icons.ts'

/**
 * The studio's screens in navigation order: what the side navigation lists and the content area shows. Screens
 * load on first visit. Until their own screens land, Demonstrations, Fit, Evaluate and Edits show the steering
 * workbench (dataset, fit, strength comparison, edit files) and Chat the plain generation panel, so everything
 * the studio could do stays reachable.
 */
export interface ScreenEntry {
  id: ScreenId
  label: string
  /** One line under the label in the navigation's tooltip and the screen's header. */
  summary: string
  icon: FunctionalComponent
  component: Component
  /** Alt+<digit> opens the screen. */
  shortcut: string
}

export type ScreenId = 'models' | 'demonstrations' | 'fit' | 'evaluate' | 'chat' | 'edits'

const steeringWorkbench = defineAsyncComponent(() => import('../components/legacy/SteeringWorkbench.vue'))

export const screens: readonly ScreenEntry[] = [
  {
    id: 'models',
    label: 'Models',
    summary: 'Load the organism, a recent model, or one from your folders and the Hugging Face cache.',
    icon: icons.models,
    component: defineAsyncComponent(() => import('./ModelsScreen.vue')),
    shortcut: 'Alt+1',
  },
  {
    id: 'demonstrations',
    label: 'Demonstrations',
    summary: 'Positive and negative examples of the behaviour to steer.',
    icon: icons.demonstrations,
    component: steeringWorkbench,
    shortcut: 'Alt+2',
  },
  {
    id: 'fit',
    label: 'Fit',
    summary: 'Fit an edit from demonstrations with a steering method.',
    icon: icons.fit,
    component: steeringWorkbench,
    shortcut: 'Alt+3',
  },
  {
    id: 'evaluate',
    label: 'Evaluate',
    summary: 'Compare base and steered generations across strengths.',
    icon: icons.evaluate,
    component: steeringWorkbench,
    shortcut: 'Alt+4',
  },
  {
    id: 'chat',
    label: 'Chat',
    summary: 'Talk to the loaded model.',
    icon: icons.chat,
    component: defineAsyncComponent(() => import('../components/legacy/GenerationPanel.vue')),
    shortcut: 'Alt+5',
  },
  {
    id: 'edits',
    label: 'Edits',
    summary: 'Fitted and loaded edits: save, export, load.',
    icon: icons.edits,
    component: steeringWorkbench,
    shortcut: 'Alt+6',
  },
]

/** The screen with `id`; the Models screen for anything unknown (an old saved choice). */
export function screenById(id: string): ScreenEntry {
  return screens.find((screen) => screen.id === id) ?? (screens[0] as ScreenEntry)
}
