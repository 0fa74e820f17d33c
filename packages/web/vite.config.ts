import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The server serves dist/ at / under a strict CSP (script-src 'self', style-src 'self'),
 * so the build must emit no inline script or style: no module-preload polyfill, CSS as files.
 */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    sourcemap: false,
  },
  server: {
    // `npm run dev -w @parley/web` proxies the API to a server on PARLEY_DEV_API (default :8080).
    proxy: {
      '/v1': { target: process.env.PARLEY_DEV_API ?? 'http://127.0.0.1:8080', ws: true },
    },
  },
});
