/**
 * The desktop build: electron-builder's configuration (Linux AppImage and deb, Windows NSIS) and Electron's
 * security fuses, flipped on the packaged executable in the afterPack hook — before electron-builder signs and
 * wraps it, so the signature covers the flipped binary. `scripts/package.ts` runs it; the tests read both
 * objects without building anything.
 */
import { FuseV1Options, FuseVersion, flipFuses, type FuseV1Config } from '@electron/fuses'
import type { AfterPackContext, Configuration } from 'electron-builder'
import { join } from 'node:path'

/**
 * Every fuse set explicitly (`strictlyRequireAllFuses`, so an Electron upgrade that adds one fails the build
 * until it is decided):
 * - RunAsNode off: `ELECTRON_RUN_AS_NODE` cannot turn the app into a plain Node interpreter;
 * - cookie encryption on;
 * - `NODE_OPTIONS` and `--inspect` arguments ignored: nobody injects code or a debugger through the environment
 *   or the command line;
 * - the app loads only from its asar archive, and that archive's integrity is checked against the hash embedded in
 *   the executable;
 * - file:// gets no extra privileges (the renderer is served from tiller://app/);
 * - the browser-process V8 snapshot stays the default one; WebAssembly trap handlers stay on (Electron's default).
 */
export const tillerFuses = {
  version: FuseVersion.V1,
  strictlyRequireAllFuses: true,
  [FuseV1Options.RunAsNode]: false,
  [FuseV1Options.EnableCookieEncryption]: true,
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  [FuseV1Options.LoadBrowserProcessSpecificV8Snapshot]: false,
  [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
  [FuseV1Options.WasmTrapHandlers]: true,
} satisfies FuseV1Config

/** The Linux executable's name (set in the configuration, so the afterPack hook knows it). */
export const linuxExecutableName = 'tiller'

/** The packaged executable inside `appOutDir` for `platform` (Electron's platform names). */
export function packagedExecutable(appOutDir: string, platform: string, productFilename: string): string {
  if (platform === 'darwin' || platform === 'mas') return join(appOutDir, `${productFilename}.app`)
  if (platform === 'win32') return join(appOutDir, `${productFilename}.exe`)
  return join(appOutDir, linuxExecutableName)
}

/** electron-builder's afterPack hook: flip the fuses on the freshly packed executable. */
export async function applyFuses(context: AfterPackContext): Promise<void> {
  const darwin = context.electronPlatformName === 'darwin' || context.electronPlatformName === 'mas'
  const executable = packagedExecutable(
    context.appOutDir,
    context.electronPlatformName,
    context.packager.appInfo.productFilename,
  )
  await flipFuses(executable, { ...tillerFuses, resetAdHocDarwinSignature: darwin })
}

/** electron-builder's configuration for Tiller. */
export function desktopBuildConfig(electronDist: string): Configuration {
  return {
    appId: 'org.tiller.studio',
    productName: 'Tiller',
    copyright: 'Tiller contributors',
    electronDist,
    directories: { output: 'dist', buildResources: 'build' },
    // The built app (main, preload, engine host, renderer) and package.json; dependencies come from node_modules.
    files: ['out/**/*', 'package.json', '!**/*.map'],
    asar: true,
    // Native code cannot load from inside an archive: ONNX Runtime's addon and its shared libraries sit unpacked.
    asarUnpack: ['**/node_modules/onnxruntime-node/**', '**/*.node'],
    // Model folders live outside the archive (RUNTIME-NOTES §5): the organism and the starter datasets.
    extraResources: [
      { from: 'resources/models/organism', to: 'models/organism' },
      { from: 'resources/datasets', to: 'datasets' },
    ],
    afterPack: applyFuses,
    linux: {
      target: ['AppImage', 'deb'],
      executableName: linuxExecutableName,
      category: 'Science',
      synopsis: 'Activation editing for local language models',
    },
    deb: { depends: ['libnss3', 'libgtk-3-0', 'libxss1', 'libasound2'] },
    win: { target: ['nsis'] },
    nsis: { oneClick: false, perMachine: false, allowToChangeInstallationDirectory: true },
  }
}
