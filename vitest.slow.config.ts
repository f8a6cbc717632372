import { defineConfig } from 'vitest/config'
import { sharedTestOptions, slowTestFiles } from './vitest.config.ts'

// `npm run test:slow`: only the slow files, with the timeouts and pool of `npm test`.
export default defineConfig({ test: { ...sharedTestOptions, include: [slowTestFiles] } })
