import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The dashboard is built into ./dist (not committed) by `npm run build:dashboard` (run by `prepare`). */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1_500 },
  logLevel: 'warn',
});
