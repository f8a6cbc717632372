#!/usr/bin/env node
// `npm run setup:cuda`: the one step that fetches ONNX Runtime's CUDA provider libraries on Linux x64.
// `npm ci` never downloads them (the install command sets ONNXRUNTIME_NODE_INSTALL=skip, which onnxruntime-node's
// postinstall reads) so that installs work offline.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import process from 'node:process'

const require = createRequire(import.meta.url)
const platform = `${process.platform}/${process.arch}`

if (platform === 'win32/x64' || platform === 'win32/arm64') {
  console.log(
    'Windows needs no setup: DirectML ships inside onnxruntime-node and Tiller uses it automatically.',
  )
  process.exit(0)
}
if (platform !== 'linux/x64') {
  console.log(
    `CUDA is offered by onnxruntime-node on Linux x64 only; this machine is ${platform}, so Tiller runs on CPU.`,
  )
  process.exit(0)
}

const packageRoot = dirname(require.resolve('onnxruntime-node/package.json'))
const binaryFolder = join(packageRoot, 'bin', 'napi-v6', 'linux', 'x64')
const libraries = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so']
const { version } = require('onnxruntime-node/package.json')

if (libraries.every((name) => existsSync(join(binaryFolder, name)))) {
  console.log(`CUDA provider libraries are already installed in ${binaryFolder}.`)
  process.exit(0)
}

console.log(
  [
    `Fetching ONNX Runtime ${version}'s CUDA 12 provider libraries (NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux,`,
    `several hundred MB) into ${binaryFolder}.`,
    'They also need the NVIDIA driver, CUDA 12 and cuDNN 9 installed on the system.',
  ].join('\n'),
)

const result = spawnSync(process.execPath, [join(packageRoot, 'script', 'install.js')], {
  stdio: 'inherit',
  env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12', npm_config_onnxruntime_node_install: 'cuda12' },
})

if (result.status !== 0 || !libraries.every((name) => existsSync(join(binaryFolder, name)))) {
  console.error(
    'setup:cuda failed: the CUDA libraries could not be downloaded (is this machine offline, or is NuGet ' +
      'unreachable?). Tiller keeps working on CPU; run `npm run setup:cuda` again once the network is reachable.',
  )
  process.exit(1)
}
console.log('CUDA provider libraries installed. `npx tiller doctor` should now list CUDA as available.')
