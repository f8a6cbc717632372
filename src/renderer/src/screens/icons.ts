import { h, type FunctionalComponent } from 'vue'

/**
 * The navigation's icons: 24×24 outline paths drawn for Tiller (no icon package is installed), rendered as
 * components so Naive UI's menu can size and colour them.
 */
function outlineIcon(paths: string[]): FunctionalComponent {
  const icon: FunctionalComponent = () =>
    h(
      'svg',
      {
        viewBox: '0 0 24 24',
        fill: 'none',
        stroke: 'currentColor',
        'stroke-width': 1.8,
        'stroke-linecap': 'round',
        'stroke-linejoin': 'round',
        'aria-hidden': 'true',
      },
      paths.map((d) => h('path', { d })),
    )
  return icon
}

export const icons = {
  // A chip: the model.
  models: outlineIcon(['M7 7h10v10H7z', 'M10 3v4M14 3v4M10 17v4M14 17v4M3 10h4M3 14h4M17 10h4M17 14h4']),
  // Two rows, one ticked and one crossed: positive and negative demonstrations.
  demonstrations: outlineIcon([
    'M4 6h16M4 12h16M4 18h16',
    'M15 4.5l1.5 1.5 3-3',
    'M16 16.5l3 3M19 16.5l-3 3',
  ]),
  // A direction found in a cloud of points.
  fit: outlineIcon(['M4 20L20 4', 'M6 9h.01M9 6h.01M15 18h.01M18 15h.01M8 14h.01M14 8h.01']),
  // A bar chart.
  evaluate: outlineIcon(['M4 20h16', 'M7 16v-5M12 16V6M17 16v-8']),
  // Two speech bubbles side by side.
  chat: outlineIcon(['M4 5h9v7H8l-4 3z', 'M13 9h7v7l-3-2h-4z']),
  // Three columns side by side: one prompt at several strengths.
  compare: outlineIcon(['M4 5h4v14H4z', 'M10 5h4v14h-4z', 'M16 5h4v14h-4z']),
  // A stack of layers.
  edits: outlineIcon(['M12 4l8 4-8 4-8-4z', 'M4 12l8 4 8-4', 'M4 16l8 4 8-4']),
}
