import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'electron-vite'
import { resolve } from 'node:path'

/**
 * Builds the desktop app into `out/`: the main process (`src/main/app/index.ts`) with the engine's utility
 * process as a second entry, the sandboxed preload as one CommonJS file (sandboxed preloads cannot be ES
 * modules), and the renderer, which browser mode serves too. Runtime dependencies (onnxruntime-node,
 * Transformers.js) stay external so their native binaries load from node_modules.
 */
export default defineConfig({
  main: {
    build: {
      rolldownOptions: {
        input: {
          index: resolve('src/main/app/index.ts'),
          'engine-host': resolve('src/main/app/engine-host.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      rolldownOptions: {
        input: { index: resolve('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve('src/renderer'),
    build: {
      outDir: resolve('out/renderer'),
      rolldownOptions: { input: resolve('src/renderer/index.html') },
    },
    plugins: [vue()],
  },
})
