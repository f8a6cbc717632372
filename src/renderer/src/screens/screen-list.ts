/**
 * The studio's screens in navigation order, as plain data (no components): what the navigation lists, the header
 * says and the end-to-end tests visit. `index.ts` adds each screen's icon and component.
 */
export const screenList = [
  {
    id: 'models',
    label: 'Models',
    summary: 'Load the organism, a recent model, or one from your folders and the Hugging Face cache.',
    shortcut: 'Alt+1',
  },
  {
    id: 'demonstrations',
    label: 'Demonstrations',
    summary: 'Positive and negative examples of the behaviour to steer.',
    shortcut: 'Alt+2',
  },
  {
    id: 'fit',
    label: 'Fit',
    summary: 'Fit an edit from demonstrations with a steering method.',
    shortcut: 'Alt+3',
  },
  {
    id: 'evaluate',
    label: 'Evaluate',
    summary: 'Measure an edit: accuracy with intervals, side effects and a strength sweep.',
    shortcut: 'Alt+4',
  },
  { id: 'chat', label: 'Chat', summary: 'Base and steered replies side by side.', shortcut: 'Alt+5' },
  { id: 'edits', label: 'Edits', summary: 'Fitted and loaded edits: save, export, load.', shortcut: 'Alt+6' },
  {
    id: 'compare',
    label: 'Compare',
    summary: 'One prompt at several strengths of an edit, as rows of one batch; quick fits and edit files.',
    shortcut: 'Alt+7',
  },
] as const

export type ScreenId = (typeof screenList)[number]['id']
