import { describe, expect, it } from 'vitest';

// every module of the SPA as text (src/client/ is generated: not ours to arrange)
const sources = import.meta.glob<string>(['./**/*.{ts,tsx}', '!./client/**', '!./**/*.test.{ts,tsx}'], {
  query: '?raw',
  import: 'default',
  eager: true,
});

const STATIC_IMPORT = /^\s*(?:import|export)\s[^'"`;]*?from\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]/gm;

/** './layout/AppLayout.tsx' + '../routeTable' → './routeTable.tsx' (or undefined: not a module of ours). */
function resolveImport(from: string, specifier: string): string | undefined {
  const parts = from.split('/').slice(0, -1);
  for (const part of specifier.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.') parts.push(part);
  }
  const base = parts.join('/');
  return [`${base}.ts`, `${base}.tsx`, `${base}/index.ts`, `${base}/index.tsx`, base].find((path) => path in sources);
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [path, text] of Object.entries(sources)) {
    const targets: string[] = [];
    for (const match of text.matchAll(STATIC_IMPORT)) {
      const target = resolveImport(path, match[1] ?? match[2] ?? '');
      if (target) targets.push(target);
    }
    graph.set(path, targets);
  }
  return graph;
}

function findCycles(graph: Map<string, string[]>): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' → '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('module imports', () => {
  it('go only downward: no module imports itself through others (type imports included)', () => {
    const graph = importGraph();
    expect(graph.get('./routes.tsx')).toContain('./layout/AppLayout.tsx'); // the scan sees imports
    expect(findCycles(graph)).toEqual([]);
  });
});
