/** The Electron dist folder and executable when present on disk, else null (never downloads). */
export function findElectronDist(
  environment?: NodeJS.ProcessEnv,
): { folder: string; executable: string } | null
