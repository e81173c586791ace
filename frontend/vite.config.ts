import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The API runs on 127.0.0.1:8000 during development (`kameng run` / `kameng serve`);
// everything that is not the SPA goes there, so the browser sees one origin.
const backend = process.env.KAMENG_API_URL ?? 'http://127.0.0.1:8000';
const proxied = ['/api', '/readyz', '/healthz', '/metrics'];

export default defineConfig({
  plugins: [react()],
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: Object.fromEntries(proxied.map((path) => [path, { target: backend, changeOrigin: false }])),
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
    testTimeout: 120_000,
  },
});
