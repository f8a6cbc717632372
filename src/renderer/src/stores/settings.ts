import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { StudioSettings, ThemeChoice } from '../../../shared/studio.ts'
import { useClient } from '../api.ts'
import { messageOf } from '../errors.ts'

/** The studio's settings kept in the workspace (theme, recent models, added model folders). */
export const useSettingsStore = defineStore('settings', () => {
  const client = useClient()
  const settings = ref<StudioSettings | null>(null)
  /** Why the settings could not be read or saved; the studio keeps working with what it has. */
  const error = ref<string | null>(null)
  /** The theme in effect now: the saved one, or the one chosen before the settings arrived. */
  const theme = ref<ThemeChoice>('system')

  function adopt(next: StudioSettings): void {
    settings.value = next
    theme.value = next.theme
    error.value = null
  }

  async function refresh(): Promise<void> {
    try {
      adopt(await client['settings:read']({}))
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  /** Switch the theme at once and save it; a failed save keeps the choice for this session and says why. */
  async function chooseTheme(choice: ThemeChoice): Promise<void> {
    theme.value = choice
    try {
      adopt(await client['settings:update']({ theme: choice }))
    } catch (thrown) {
      error.value = `The theme could not be saved: ${messageOf(thrown)}`
    }
  }

  /** Close the first-run welcome for good. */
  async function dismissWelcome(): Promise<void> {
    if (settings.value !== null) settings.value = { ...settings.value, welcomeDismissed: true }
    try {
      adopt(await client['settings:update']({ welcomeDismissed: true }))
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  return { settings, error, theme, refresh, chooseTheme, dismissWelcome }
})
