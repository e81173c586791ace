import { useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';

import { setPermissionSubject } from './permissions';
import { getSession, subscribeSession } from './session';

/** When the session ends, forget everything the previous user loaded. */
export function SessionSync() {
  const queryClient = useQueryClient();
  useEffect(
    () =>
      subscribeSession(() => {
        if (getSession().status !== 'signedOut') return;
        setPermissionSubject(null);
        queryClient.clear();
      }),
    [queryClient],
  );
  return null;
}
