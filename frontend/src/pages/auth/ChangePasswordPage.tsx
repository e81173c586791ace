import { App, Button } from 'antd';
import { useTranslation } from 'react-i18next';

import { signOut } from '../../auth/session';
import { AuthShell } from '../../components/AuthShell';
import { ChangePasswordForm } from '../../components/ChangePasswordForm';
import { useMe } from '../../queries/me';

/**
 * First sign-in: the password must change before anything else (the API answers
 * `password_change_required` to everything else). The guard moves on once `me` says so.
 */
export function ChangePasswordPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const me = useMe();
  return (
    <AuthShell
      title={t('password.forcedTitle')}
      subtitle={t('password.forcedSubtitle')}
      width={460}
      extra={
        <Button type="text" className="kameng-header-button" onClick={() => void signOut()} data-testid="forced-logout">
          {t('auth.logout')}
        </Button>
      }
    >
      <ChangePasswordForm
        forced
        staff={me.data?.kind !== 'customer' && me.data?.kind !== 'reseller'}
        onDone={() => void message.success(t('password.changed'))}
      />
    </AuthShell>
  );
}
