// `npm run check`: the static checks (types of both runtimes, lint, formatting), as many at once as there are
// cores, each one's output printed whole when it ends, and a non-zero exit if any of them failed.
import { spawn } from 'node:child_process'
import { availableParallelism } from 'node:os'

const checks = [
  ['types (main, preload, engine)', 'tsc', ['-p', 'tsconfig.node.json', '--noEmit']],
  ['types (renderer)', 'vue-tsc', ['-p', 'tsconfig.web.json', '--noEmit']],
  ['lint', 'eslint', ['.']],
  ['format', 'prettier', ['--check', '.']],
]

function run([name, command, args]) {
  return new Promise((resolve) => {
    const started = performance.now()
    const child = spawn('npx', ['--no-install', command, ...args], {
      shell: process.platform === 'win32',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    child.on('close', (code) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      const status = code === 0 ? 'passed' : `FAILED (exit ${code})`
      process.stdout.write(`\n== ${name}: ${status} in ${seconds} s\n`)
      if (code !== 0 || output.trim() !== '') process.stdout.write(output)
      resolve(code === 0)
    })
  })
}

const results = []
let next = 0
async function worker() {
  while (next < checks.length) {
    const index = next++
    results[index] = await run(checks[index])
  }
}
await Promise.all(Array.from({ length: Math.min(availableParallelism(), checks.length) }, worker))
const failed = checks.filter((_, index) => !results[index]).map(([name]) => name)
if (failed.length > 0) {
  process.stdout.write(`\nStatic checks failed: ${failed.join(', ')}\n`)
  process.exit(1)
}
process.stdout.write('\nAll static checks passed.\n')
