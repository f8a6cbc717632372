// Entry of a fuzz case worker: the sources are TypeScript run through tsx, so the worker registers tsx first and
// then imports the entry it was given (workerData.entry, a file URL).
import { register } from 'tsx/esm/api'
import { workerData } from 'node:worker_threads'

register()
await import(workerData.entry)
