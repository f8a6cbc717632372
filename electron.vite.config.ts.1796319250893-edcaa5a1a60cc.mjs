import "node:module";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "electron-vite";
import { resolve } from "node:path";
// electron.vite.config.ts
/**
* Builds the desktop app into `out/`: the main process (`src/main/app/index.ts`) with the engine's utility
* process as a second entry, the sandboxed preload as one CommonJS file (sandboxed preloads cannot be ES
* modules), and the renderer, which browser mode serves too. Runtime dependencies (onnxruntime-node,
* Transformers.js) stay external so their native binaries load from node_modules.
*/
var electron_vite_config_default = defineConfig({
	main: { build: { rolldownOptions: { input: {
		index: resolve("src/main/app/index.ts"),
		"engine-host": resolve("src/main/app/engine-host.ts")
	} } } },
	preload: { build: { rolldownOptions: {
		input: { index: resolve("src/preload/index.ts") },
		output: {
			format: "cjs",
			entryFileNames: "[name].cjs"
		}
	} } },
	renderer: {
		root: resolve("src/renderer"),
		build: {
			outDir: resolve("out/renderer"),
			rolldownOptions: { input: resolve("src/renderer/index.html") }
		},
		plugins: [vue()]
	}
});
export { electron_vite_config_default as default };

//# sourceMappingURL=data:application/json;charset=utf-8;base64,eyJ2ZXJzaW9uIjozLCJmaWxlIjoiZWxlY3Ryb24udml0ZS5jb25maWcuanMiLCJuYW1lcyI6W10sInNvdXJjZXMiOlsiL3dvcmsvd3Qvc3R1ZGlvLWZpdC9lbGVjdHJvbi52aXRlLmNvbmZpZy50cyJdLCJzb3VyY2VzQ29udGVudCI6WyJpbXBvcnQgdnVlIGZyb20gJ0B2aXRlanMvcGx1Z2luLXZ1ZSdcbmltcG9ydCB7IGRlZmluZUNvbmZpZyB9IGZyb20gJ2VsZWN0cm9uLXZpdGUnXG5pbXBvcnQgeyByZXNvbHZlIH0gZnJvbSAnbm9kZTpwYXRoJ1xuXG4vKipcbiAqIEJ1aWxkcyB0aGUgZGVza3RvcCBhcHAgaW50byBgb3V0L2A6IHRoZSBtYWluIHByb2Nlc3MgKGBzcmMvbWFpbi9hcHAvaW5kZXgudHNgKSB3aXRoIHRoZSBlbmdpbmUncyB1dGlsaXR5XG4gKiBwcm9jZXNzIGFzIGEgc2Vjb25kIGVudHJ5LCB0aGUgc2FuZGJveGVkIHByZWxvYWQgYXMgb25lIENvbW1vbkpTIGZpbGUgKHNhbmRib3hlZCBwcmVsb2FkcyBjYW5ub3QgYmUgRVNcbiAqIG1vZHVsZXMpLCBhbmQgdGhlIHJlbmRlcmVyLCB3aGljaCBicm93c2VyIG1vZGUgc2VydmVzIHRvby4gUnVudGltZSBkZXBlbmRlbmNpZXMgKG9ubnhydW50aW1lLW5vZGUsXG4gKiBUcmFuc2Zvcm1lcnMuanMpIHN0YXkgZXh0ZXJuYWwgc28gdGhlaXIgbmF0aXZlIGJpbmFyaWVzIGxvYWQgZnJvbSBub2RlX21vZHVsZXMuXG4gKi9cbmV4cG9ydCBkZWZhdWx0IGRlZmluZUNvbmZpZyh7XG4gIG1haW46IHtcbiAgICBidWlsZDoge1xuICAgICAgcm9sbGRvd25PcHRpb25zOiB7XG4gICAgICAgIGlucHV0OiB7XG4gICAgICAgICAgaW5kZXg6IHJlc29sdmUoJ3NyYy9tYWluL2FwcC9pbmRleC50cycpLFxuICAgICAgICAgICdlbmdpbmUtaG9zdCc6IHJlc29sdmUoJ3NyYy9tYWluL2FwcC9lbmdpbmUtaG9zdC50cycpLFxuICAgICAgICB9LFxuICAgICAgfSxcbiAgICB9LFxuICB9LFxuICBwcmVsb2FkOiB7XG4gICAgYnVpbGQ6IHtcbiAgICAgIHJvbGxkb3duT3B0aW9uczoge1xuICAgICAgICBpbnB1dDogeyBpbmRleDogcmVzb2x2ZSgnc3JjL3ByZWxvYWQvaW5kZXgudHMnKSB9LFxuICAgICAgICBvdXRwdXQ6IHsgZm9ybWF0OiAnY2pzJywgZW50cnlGaWxlTmFtZXM6ICdbbmFtZV0uY2pzJyB9LFxuICAgICAgfSxcbiAgICB9LFxuICB9LFxuICByZW5kZXJlcjoge1xuICAgIHJvb3Q6IHJlc29sdmUoJ3NyYy9yZW5kZXJlcicpLFxuICAgIGJ1aWxkOiB7XG4gICAgICBvdXREaXI6IHJlc29sdmUoJ291dC9yZW5kZXJlcicpLFxuICAgICAgcm9sbGRvd25PcHRpb25zOiB7IGlucHV0OiByZXNvbHZlKCdzcmMvcmVuZGVyZXIvaW5kZXguaHRtbCcpIH0sXG4gICAgfSxcbiAgICBwbHVnaW5zOiBbdnVlKCldLFxuICB9LFxufSlcbiJdLCJtYXBwaW5ncyI6Ijs7Ozs7Ozs7Ozs7QUFVQSxJQUFBLCtCQUFlLGFBQWE7Q0FDMUIsTUFBTSxFQUNKLE9BQU8sRUFDTCxpQkFBaUIsRUFDZixPQUFPO0VBQ0wsT0FBTyxRQUFRLHVCQUF1QjtFQUN0QyxlQUFlLFFBQVEsNkJBQTZCO0NBQ3RELEVBQ0YsRUFDRixFQUNGO0NBQ0EsU0FBUyxFQUNQLE9BQU8sRUFDTCxpQkFBaUI7RUFDZixPQUFPLEVBQUUsT0FBTyxRQUFRLHNCQUFzQixFQUFFO0VBQ2hELFFBQVE7R0FBRSxRQUFRO0dBQU8sZ0JBQWdCO0VBQWE7Q0FDeEQsRUFDRixFQUNGO0NBQ0EsVUFBVTtFQUNSLE1BQU0sUUFBUSxjQUFjO0VBQzVCLE9BQU87R0FDTCxRQUFRLFFBQVEsY0FBYztHQUM5QixpQkFBaUIsRUFBRSxPQUFPLFFBQVEseUJBQXlCLEVBQUU7RUFDL0Q7RUFDQSxTQUFTLENBQUMsSUFBSSxDQUFDO0NBQ2pCO0FBQ0YsQ0FBQyJ9