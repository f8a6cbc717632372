import { defineStore } from 'pinia'
import { ref } from 'vue'
import { screenById, type ScreenId } from '../screens/index.ts'

/** The screen on show, kept in the address's hash (`#/fit`) so a reload opens the same screen. */
export const useNavigationStore = defineStore('navigation', () => {
  const fromHash = (): ScreenId => screenById(window.location.hash.replace(/^#\/?/, '')).id
  const current = ref<ScreenId>(fromHash())

  function go(id: ScreenId): void {
    current.value = id
    const hash = `#/${id}`
    // replaceState keeps the token in the address and adds no history entry per click.
    if (window.location.hash !== hash) window.history.replaceState(null, '', hash)
  }

  window.addEventListener('hashchange', () => (current.value = fromHash()))
  return { current, go }
})
