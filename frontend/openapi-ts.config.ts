import { defineConfig } from '@hey-api/openapi-ts';

// The SPA's API client is generated from the backend's committed spec.
// `npm run generate` rewrites src/client/; `npm run check:client` fails when it is stale.
// OPENAPI_TS_OUTPUT lets check:client generate into a temporary folder instead.
export default defineConfig({
  input: '../openapi/openapi.json',
  output: {
    path: process.env.OPENAPI_TS_OUTPUT ?? 'src/client',
  },
  parser: {
    // the API pages lists with cursors (`before` / `before_id`): these parameters get
    // `*InfiniteOptions`; offset paging (wallet:list_accounts) is asked for page by page
    pagination: { keywords: ['before', 'before_id'] },
    hooks: {
      operations: {
        // catalog:price_check is a POST that writes nothing: the editor asks it as a query
        isQuery: (operation) =>
          operation.method === 'post' && operation.path === '/api/v1/catalog/price-check' ? true : undefined,
      },
    },
  },
  plugins: [
    '@hey-api/client-fetch',
    '@hey-api/typescript',
    {
      name: '@hey-api/sdk',
      // the generated client reads its settings from src/api.ts (base URL, credentials)
    },
    {
      // src/client/@tanstack/react-query.gen.ts: `*Options`, `*InfiniteOptions`, `*QueryKey`,
      // `*InfiniteQueryKey` and `*Mutation` for every operation; src/queries/ builds the hooks
      // the pages use on top of them (polling, invalidation, `meta`)
      name: '@tanstack/react-query',
    },
  ],
});
