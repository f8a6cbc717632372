/** Bytes as a person reads them: 1.2 GB, 340 MB, 12 kB (decimal units, as file managers show sizes). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—'
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit += 1
  }
  if (unit === 0) return `${value} ${value === 1 ? 'byte' : 'bytes'}`
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`
}

/** Option names the camel-case rule would spell badly. */
const optionLabels: Record<string, string> = { topK: 'Top-k', topHeads: 'Top heads', phi: 'Feature map φ' }

/**
 * A method option's name as a form label: `learningRate` → "Learning rate". The exact name stays in the field's
 * tooltip, since papers and `tiller fit --option NAME=VALUE` use it.
 */
export function optionLabel(name: string): string {
  const known = optionLabels[name]
  if (known !== undefined) return known
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase()
  return words.charAt(0).toUpperCase() + words.slice(1)
}
