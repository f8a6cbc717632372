import { useThemeVars } from 'naive-ui'
import { computed, type ComputedRef } from 'vue'
import type { ChartColors } from '../components/chart-setup.ts'

/** `#rrggbb` (or `#rgb`) with an alpha, as `rgba(…)`; other colour syntaxes pass through unchanged. */
export function withAlpha(color: string, alpha: number): string {
  const hex = /^#([\da-f]{3}|[\da-f]{6})$/i.exec(color)?.[1]
  if (hex === undefined) return color
  const full = hex.length === 3 ? [...hex].map((digit) => digit + digit).join('') : hex
  const channel = (index: number) => Number.parseInt(full.slice(index, index + 2), 16)
  return `rgba(${channel(0)}, ${channel(2)}, ${channel(4)}, ${alpha})`
}

/** Chart colours from the current Naive UI theme, so charts follow light and dark. */
export function useChartColors(): ComputedRef<ChartColors> {
  const theme = useThemeVars()
  return computed(() => ({
    text: theme.value.textColor2,
    muted: theme.value.textColor3,
    grid: theme.value.dividerColor,
    primary: theme.value.primaryColor,
    secondary: theme.value.infoColor,
    tertiary: theme.value.successColor,
    warning: theme.value.warningColor,
    warningBand: withAlpha(theme.value.warningColor, 0.16),
  }))
}
