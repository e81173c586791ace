import { defineConfig } from '@hey-api/openapi-ts';

// The SPA's API client is generated from the backend's committed spec.
// `npm run generate` rewrites src/client/; `npm run check:client` fails when it is stale.
// OPENAPI_TS_OUTPUT lets check:client generate into a temporary folder instead.
export default defineConfig({
  input: '../openapi/openapi.json',
  output: {
    path: process.env.OPENAPI_TS_OUTPUT ?? 'src/client',
  },
  plugins: [
    '@hey-api/client-fetch',
    '@hey-api/typescript',
    {
      name: '@hey-api/sdk',
      // the generated client reads its settings from src/api.ts (base URL, credentials)
    },
  ],
});
