import { emptyStyleHash } from '../../src/shared/style-policy.ts'
import { FuseV1Options, FuseVersion } from '@electron/fuses'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  appResponseHeaders,
  appUrl,
  desktopContentSecurityPolicy,
  resolveAppRequest,
} from '../../src/main/app/app-protocol.ts'
import { decidePermission, isAppOrigin } from '../../src/main/app/permissions.ts'
import {
  applyFuses,
  desktopBuildConfig,
  packagedExecutable,
  tillerFuses,
} from '../../scripts/packaging/desktop-build.ts'

/**
 * The desktop app's security settings, checked without Electron's binary: the fuses, the packaging
 * configuration, the tiller:// protocol's request mapping and headers, the permission decisions, and
 * `npm run package` refusing in one line when the binary is absent.
 */

const root = new URL('../../', import.meta.url).pathname
const renderer = '/opt/tiller/out/renderer'

describe('Electron fuses', () => {
  test('every fuse is decided, with the hardening the studio needs', () => {
    expect(tillerFuses.version).toBe(FuseVersion.V1)
    expect(tillerFuses.strictlyRequireAllFuses).toBe(true)
    const decided = Object.keys(FuseV1Options).filter((key) => Number.isNaN(Number(key)))
    for (const name of decided) {
      const index = FuseV1Options[name as keyof typeof FuseV1Options]
      expect(typeof tillerFuses[index], `fuse ${name} must be set`).toBe('boolean')
    }
    expect(tillerFuses[FuseV1Options.RunAsNode]).toBe(false)
    expect(tillerFuses[FuseV1Options.EnableCookieEncryption]).toBe(true)
    expect(tillerFuses[FuseV1Options.EnableNodeOptionsEnvironmentVariable]).toBe(false)
    expect(tillerFuses[FuseV1Options.EnableNodeCliInspectArguments]).toBe(false)
    expect(tillerFuses[FuseV1Options.EnableEmbeddedAsarIntegrityValidation]).toBe(true)
    expect(tillerFuses[FuseV1Options.OnlyLoadAppFromAsar]).toBe(true)
    expect(tillerFuses[FuseV1Options.GrantFileProtocolExtraPrivileges]).toBe(false)
  })

  test('the afterPack hook flips the fuses on the packed executable of each platform', () => {
    expect(packagedExecutable('/out/linux-unpacked', 'linux', 'Tiller')).toBe('/out/linux-unpacked/tiller')
    expect(packagedExecutable('/out/win-unpacked', 'win32', 'Tiller')).toBe('/out/win-unpacked/Tiller.exe')
    expect(packagedExecutable('/out/mac', 'darwin', 'Tiller')).toBe('/out/mac/Tiller.app')
    const config = desktopBuildConfig('/electron/dist')
    expect(config.afterPack).toBe(applyFuses)
    expect(config.linux?.executableName).toBe('tiller')
  })
})

describe('packaging configuration', () => {
  test('Linux AppImage and deb, Windows NSIS, from the local Electron, asar with ONNX Runtime unpacked', () => {
    const config = desktopBuildConfig('/electron/dist')
    expect(config.electronDist).toBe('/electron/dist')
    expect(config.linux?.target).toEqual(['AppImage', 'deb'])
    expect(config.win?.target).toEqual(['nsis'])
    expect(config.asar).toBe(true)
    expect(config.asarUnpack).toContain('**/node_modules/onnxruntime-node/**')
    expect(config.extraResources).toEqual([
      { from: 'resources/models/organism', to: 'models/organism' },
      { from: 'resources/datasets', to: 'datasets' },
    ])
    expect(config.files).toContain('out/**/*')
  })

  test('`npm run package` without Electrons binary says so in one line and exits 1', () => {
    const empty = mkdtempSync(join(tmpdir(), 'tiller-no-electron-'))
    try {
      const result = spawnSync(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/package.ts'], {
        cwd: root,
        env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: empty },
        encoding: 'utf8',
      })
      expect(result.status).toBe(1)
      const lines = result.stderr.trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^tiller package: Electron's binary is not installed/)
      expect(result.stdout).toBe('')
    } finally {
      rmSync(empty, { recursive: true, force: true })
    }
  })
})

describe('tiller://app/ protocol', () => {
  test('files of the renderer with their MIME types and the security headers', () => {
    const cases = [
      ['tiller://app/index.html', `${renderer}/index.html`, 'text/html; charset=utf-8'],
      ['tiller://app/', `${renderer}/index.html`, 'text/html; charset=utf-8'],
      [
        'tiller://app/assets/index-abc.js',
        `${renderer}/assets/index-abc.js`,
        'text/javascript; charset=utf-8',
      ],
      ['tiller://app/assets/index-abc.css', `${renderer}/assets/index-abc.css`, 'text/css; charset=utf-8'],
      ['tiller://app/icon.svg', `${renderer}/icon.svg`, 'image/svg+xml'],
      // A path without an extension is a screen of the single-page app.
      ['tiller://app/models', `${renderer}/index.html`, 'text/html; charset=utf-8'],
    ] as const
    for (const [url, path, type] of cases) {
      const answer = resolveAppRequest(renderer, url)
      expect(answer, url).toMatchObject({ kind: 'file', status: 200, path })
      expect(answer.headers['Content-Type']).toBe(type)
      expect(answer.headers['Content-Security-Policy']).toBe(desktopContentSecurityPolicy)
      expect(answer.headers['X-Content-Type-Options']).toBe('nosniff')
    }
    expect(appUrl('/index.html')).toBe('tiller://app/index.html')
  })

  test('path traversal never leaves the renderer folder; other hosts and unknown types are refused', () => {
    // The URL parser collapses plain and %2e dot segments at the root, so these stay inside the folder.
    for (const url of ['tiller://app/../../etc/passwd.html', 'tiller://app/%2e%2e/%2e%2e/etc/passwd.html']) {
      expect(resolveAppRequest(renderer, url)).toMatchObject({
        kind: 'file',
        path: `${renderer}/etc/passwd.html`,
      })
    }
    // An encoded slash survives the parser and would climb out: refused.
    const refusals = [
      ['tiller://app/assets/..%2f..%2f..%2fsecret.js', 403],
      ['tiller://app/..%2F..%2F..%2F..%2Fetc%2Fpasswd.html', 403],
      ['tiller://app/%E0%A4%A.js', 400],
      ['tiller://app/a%00.js', 400],
      ['tiller://elsewhere/index.html', 403],
      ['file:///etc/passwd', 403],
      ['tiller://app/setup.exe', 404],
    ] as const
    for (const [url, status] of refusals) {
      const answer = resolveAppRequest(renderer, url)
      expect(answer.kind, url).toBe('refused')
      expect(answer.status, url).toBe(status)
      expect(answer.headers['Content-Security-Policy']).toBe(desktopContentSecurityPolicy)
    }
  })

  test('the CSP: no inline or remote script, no connections, no framing; no inline style with content', () => {
    const directives = new Map(
      desktopContentSecurityPolicy.split('; ').map((directive) => {
        const [name, ...values] = directive.split(' ')
        return [name, values] as const
      }),
    )
    expect(directives.get('script-src')).toEqual(["'self'"])
    expect(directives.get('style-src')).toEqual(["'self'", `'${emptyStyleHash}'`])
    expect(desktopContentSecurityPolicy).not.toContain('unsafe')
    expect(directives.get('connect-src')).toEqual(["'none'"])
    expect(directives.get('object-src')).toEqual(["'none'"])
    expect(directives.get('frame-ancestors')).toEqual(["'none'"])
    expect(appResponseHeaders['Content-Security-Policy']).toBe(desktopContentSecurityPolicy)
  })
})

describe('permissions', () => {
  test('only clipboard writes, and only for Tillers page', () => {
    expect(decidePermission('clipboard-sanitized-write', 'tiller://app/index.html', undefined)).toBe(true)
    expect(decidePermission('clipboard-sanitized-write', 'https://example.com/', undefined)).toBe(false)
    expect(decidePermission('clipboard-sanitized-write', 'tiller://other/', undefined)).toBe(false)
    for (const permission of [
      'media',
      'geolocation',
      'notifications',
      'midi',
      'hid',
      'serial',
      'usb',
      'display-capture',
      'pointerLock',
      'fullscreen',
      'clipboard-read',
      'openExternal',
      'unknown-future-permission',
    ]) {
      expect(decidePermission(permission, 'tiller://app/index.html', undefined), permission).toBe(false)
    }
  })

  test('the dev server counts as the page only in development', () => {
    expect(isAppOrigin('http://localhost:5173/', 'http://localhost:5173')).toBe(true)
    expect(isAppOrigin('http://localhost:5173/', undefined)).toBe(false)
    expect(isAppOrigin('not a url', undefined)).toBe(false)
    expect(isAppOrigin(undefined, undefined)).toBe(false)
  })
})
