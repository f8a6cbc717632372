/**
 * Styles that libraries inject at run time (Naive UI's css-render writes `<style>` elements) under a content
 * security policy without `'unsafe-inline'`: an inline `<style>` would be refused, but constructed style sheets
 * (`adoptedStyleSheets`) are not governed by `style-src`. Every `<style>` the page's scripts create keeps its text
 * out of the DOM (the element stays, empty and of a type the browser does not process, so libraries still find
 * it), and the text goes into a constructed sheet, kept in document order, updated when the text changes and
 * dropped when the element leaves the document.
 */

/** The `type` given to script-created style elements: not CSS to the browser, so never applied inline. */
export const mirroredStyleType = 'text/x-tiller-adopted'

/** Start mirroring; returns a function that stops it (tests). Does nothing where constructed sheets are missing. */
export function mirrorScriptStyles(target: Document = document): () => void {
  if (!('adoptedStyleSheets' in target) || !('replaceSync' in CSSStyleSheet.prototype)) return () => undefined
  const sheets = new Map<HTMLStyleElement, { sheet: CSSStyleSheet; text: string }>()
  const ours = new WeakSet<CSSStyleSheet>()
  const originalCreateElement = target.createElement
  const selector = `style[type="${mirroredStyleType}"]`

  const synchronize = (): void => {
    const present = [...target.querySelectorAll<HTMLStyleElement>(selector)]
    for (const element of [...sheets.keys()]) if (!present.includes(element)) sheets.delete(element)
    for (const element of present) {
      const text = element.textContent ?? ''
      const known = sheets.get(element)
      if (known !== undefined && known.text === text) continue
      const sheet = known?.sheet ?? new CSSStyleSheet()
      sheet.replaceSync(text)
      ours.add(sheet)
      sheets.set(element, { sheet, text })
    }
    const others = target.adoptedStyleSheets.filter((sheet) => !ours.has(sheet))
    target.adoptedStyleSheets = [
      ...others,
      ...present.map((element) => sheets.get(element)?.sheet as CSSStyleSheet),
    ]
  }
  const observer = new MutationObserver(synchronize)
  observer.observe(target.documentElement, { childList: true, subtree: true, characterData: true })

  target.createElement = function createElement(
    this: Document,
    name: string,
    options?: ElementCreationOptions,
  ): HTMLElement {
    const element = originalCreateElement.call(this, name, options)
    if (name.toLowerCase() !== 'style') return element
    element.setAttribute('type', mirroredStyleType)
    // The text lives here, never in the DOM: the browser checks an inline style's text against the policy
    // (and reports it) before it looks at the type.
    let text = ''
    Object.defineProperty(element, 'textContent', {
      configurable: true,
      get: () => text,
      set: (value: unknown) => {
        text = value === null || value === undefined ? '' : String(value)
        if (element.isConnected) queueMicrotask(synchronize)
      },
    })
    return element
  } as Document['createElement']

  return () => {
    observer.disconnect()
    target.createElement = originalCreateElement
  }
}
