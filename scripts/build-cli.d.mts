/** Types of scripts/build-cli.mjs (plain JavaScript so that `npm ci` and bin/tiller.mjs run it without tsx). */
export declare const repositoryRoot: string
export declare const defaultBuildFolder: string
export declare const entryFileName: string
export declare function buildCli(buildFolder?: string): Promise<number>
export declare function isBuildFresh(buildFolder?: string): boolean
