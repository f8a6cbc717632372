/**
 * The hash of an empty inline style, the only inline style Tiller's content security policies admit (browser mode's
 * header, the desktop protocol's header, the page's meta). Naive UI's css-render inserts `<style>` elements at run
 * time without a nonce; the renderer's `adopted-styles.ts` empties each one and moves its text into a constructed
 * style sheet, which `style-src` does not govern, so no inline style with content ever applies.
 */
export const emptyStyleHash = 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='
