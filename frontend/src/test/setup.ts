import '@testing-library/jest-dom/vitest';
import '../i18n';

import { cleanup, configure } from '@testing-library/react';
import { afterEach, vi } from 'vitest';

import { setPermissionSubject } from '../auth/permissions';
import { resetSessionForTests } from '../auth/session';
import { resetStepUpForTests } from '../auth/stepUp';

// a whole console renders in jsdom (session check, /me, then the page): give findBy* time
configure({ asyncUtilTimeout: 30_000 }); // antd pages render slowly in jsdom on 2 busy cores (CI saw 15 s)

// antd's responsive parts (Grid, Layout.Sider breakpoints) ask matchMedia, which jsdom lacks
Object.defineProperty(window, 'matchMedia', {
  writable: true,
  value: (query: string): MediaQueryList =>
    ({
      matches: false,
      media: query,
      onchange: null,
      // the deprecated pair is still called by some antd internals
      addListener: () => undefined, // eslint-disable-line @typescript-eslint/no-deprecated
      removeListener: () => undefined, // eslint-disable-line @typescript-eslint/no-deprecated
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      dispatchEvent: () => false,
    }) as MediaQueryList,
});

// jsdom does not implement getComputedStyle for pseudo elements; antd asks for them
const getComputedStyle = window.getComputedStyle.bind(window);
window.getComputedStyle = (element: Element) => getComputedStyle(element);

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  vi.useRealTimers();
  // every test starts on a fresh page: nobody signed in, nothing pending
  resetSessionForTests();
  resetStepUpForTests();
  setPermissionSubject(null);
  localStorage.clear();
});
