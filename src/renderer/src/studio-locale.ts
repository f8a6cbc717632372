import { createLocale, enUS } from 'naive-ui'

/**
 * Naive UI's English with the studio's own defaults: an empty field shows no "Please Input" (each form says what
 * goes there in its label or its own placeholder), and an empty choice asks in the studio's words.
 */
export const studioLocale = createLocale(
  {
    Input: { placeholder: '' },
    InputNumber: { placeholder: '' },
    Select: { placeholder: 'Choose…' },
  },
  enUS,
)
