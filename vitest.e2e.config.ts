import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vitest/config'
import { endToEndTestFiles, sharedTestOptions } from './vitest.config.ts'

// `npm run test:e2e`: the studio in Debian's Chromium, each file with its own browser mode and browser.
export default defineConfig({
  plugins: [vue()],
  test: {
    ...sharedTestOptions,
    // The renderer is built once, before the files run in parallel.
    globalSetup: [sharedTestOptions.globalSetup, 'test/e2e/renderer-build.ts'],
    include: [endToEndTestFiles],
  },
})
