// Entry of browser mode's engine child process: the sources are TypeScript run through tsx, so the child
// registers tsx first and then imports the entry it was given (a file URL in its settings, process.argv[2]).
import { register } from 'tsx/esm/api'

// No orphan engines: when the server's process ends (even killed), the IPC channel closes and so does the child.
// Registered before anything slow loads, so a child still starting also goes.
process.once('disconnect', () => process.exit(0))
const settings = JSON.parse(process.argv[2] ?? '{}')
register()
await import(settings.entry)
