import { useSyncExternalStore } from 'react';

import { getSession, subscribeSession, type SessionState } from './session';

/** The sign-in session's state; re-renders when it changes. */
export function useSession(): SessionState {
  return useSyncExternalStore(subscribeSession, getSession, getSession);
}
