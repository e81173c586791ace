import { Alert, Button } from 'antd';
import { useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';

import { signOut } from '../../auth/session';
import { AuthShell } from '../../components/AuthShell';
import { TotpEnrollment } from '../../components/TotpEnrollment';
import { HOME_PATH } from '../../paths';
import { meGetQueryKey } from '../../queries/me';

/** Forced 2FA enrollment for staff whose roles hold sensitive permissions. */
export function EnrollTwoFactorPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();

  const done = async () => {
    await queryClient.invalidateQueries({ queryKey: meGetQueryKey() });
    await navigate(HOME_PATH, { replace: true });
  };

  return (
    <AuthShell
      title={t('twoFactor.enrollTitle')}
      width={640}
      extra={
        <Button type="text" className="kameng-header-button" onClick={() => void signOut()} data-testid="forced-logout">
          {t('auth.logout')}
        </Button>
      }
    >
      <Alert type="info" showIcon message={t('twoFactor.enrollRequired')} style={{ marginBottom: 20 }} />
      <TotpEnrollment onDone={() => void done()} />
    </AuthShell>
  );
}
