import { darkTheme, useOsTheme, type GlobalThemeOverrides } from 'naive-ui'
import { computed, watchEffect } from 'vue'
import { useSettingsStore } from '../stores/settings.ts'

/** Tiller's teal accent on Naive UI's components, in both themes. */
const accent = {
  light: { primaryColor: '#0f7b78', primaryColorHover: '#13908c', primaryColorPressed: '#0b615e' },
  dark: { primaryColor: '#5fd0c8', primaryColorHover: '#7adcd5', primaryColorPressed: '#48b3ac' },
}

/**
 * The theme in effect: the saved choice, or the operating system's when the choice is "system". The page's
 * `data-theme` attribute follows, so the studio's own CSS variables switch with Naive UI's theme.
 */
export function useStudioTheme() {
  const settings = useSettingsStore()
  const osTheme = useOsTheme()
  const isDark = computed(() =>
    settings.theme === 'system' ? osTheme.value === 'dark' : settings.theme === 'dark',
  )
  const theme = computed(() => (isDark.value ? darkTheme : null))
  const overrides = computed<GlobalThemeOverrides>(() => ({
    common: {
      ...(isDark.value ? accent.dark : accent.light),
      fontFamily: "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'DejaVu Sans', sans-serif",
    },
  }))
  watchEffect(() => {
    document.documentElement.dataset['theme'] = isDark.value ? 'dark' : 'light'
  })
  return { isDark, theme, overrides }
}
