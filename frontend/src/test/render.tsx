import { render } from '@testing-library/react';
import { createMemoryRouter } from 'react-router';

import { AppRoot } from '../App';
import { createQueryClient } from '../queryClient';
import { buildRoutes } from '../routes';

/** The whole console (providers, layout, routes) at `path`, with a fresh query cache. */
export function renderApp(path = '/') {
  const router = createMemoryRouter(buildRoutes(), { initialEntries: [path] });
  const queryClient = createQueryClient({ retry: false });
  const utils = render(<AppRoot router={router} queryClient={queryClient} />);
  return { ...utils, router, queryClient };
}

export function jsonResponse(body: unknown, init: ResponseInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
  });
}

/** Replace fetch; `answer` gets each Request the generated client makes. */
export function fakeFetch(answer: (request: Request) => Response | Promise<Response>) {
  const calls: Request[] = [];
  const fn = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    calls.push(request);
    return answer(request);
  };
  return { fn, calls };
}
