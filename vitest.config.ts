import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vitest/config'

// Model tests build ONNX sessions; two cores run them best one file at a time per worker.
export default defineConfig({
  // Renderer component tests import .vue files.
  plugins: [vue()],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
  },
})
