import { App } from 'antd';
import { useEffect } from 'react';
import { useTranslation } from 'react-i18next';

import { describeError } from './errorMessages';
import { setErrorNotifier } from './queryClient';

/**
 * Connects TanStack Query's global onError to antd's message, in the current language
 * (known error codes get their own sentence, see errorMessages.ts).
 * One message per error code at a time, so a 5-second poll against a dead server does not
 * stack up a tower of toasts.
 */
export function ApiErrorMessages() {
  const { message } = App.useApp();
  const { t } = useTranslation();

  useEffect(
    () =>
      setErrorNotifier((error) => {
        const text = describeError(error, t);
        const suffix = error.requestId ? ` (${t('errors.requestId')}: ${error.requestId})` : '';
        void message.open({ type: 'error', key: `api-error:${error.code}`, content: text + suffix, duration: 4 });
      }),
    [message, t],
  );

  return null;
}
