import { Button, Result, Space, Spin } from 'antd';
import { useEffect, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, Outlet, useLocation } from 'react-router';

import { describeAnyError } from '../errorMessages';
import { CHANGE_PASSWORD_PATH, ENROLL_2FA_PATH, HOME_PATH, LOGIN_PATH } from '../paths';
import { useCan, useMe } from '../queries/me';
import { ForbiddenPage } from '../pages/ForbiddenPage';
import type { Permission } from './permissions';
import { bootstrapSession, signOut } from './session';
import { useSession } from './useSession';

export function FullPageSpin({ tip }: { tip: string }) {
  return (
    <div className="kameng-fullpage" data-testid="session-loading">
      <Spin size="large" />
      <div className="kameng-fullpage-tip">{tip}</div>
    </div>
  );
}

/** Where the login page should send the user back to, given the path they tried. */
export function loginPathFor(here: string, reason: string | null): string {
  if (reason === 'logout' || here === HOME_PATH || here.startsWith(LOGIN_PATH)) return LOGIN_PATH;
  return `${LOGIN_PATH}?next=${encodeURIComponent(here)}`;
}

/**
 * Guard of every signed-in page: gets an access token at page load (refresh cookie), loads
 * `me`, and holds the user on the forced steps — first the password change, then the 2FA
 * enrollment — before anything else.
 */
export function RequireAuth() {
  const { t } = useTranslation();
  const session = useSession();
  const location = useLocation();
  const me = useMe();

  useEffect(() => {
    void bootstrapSession();
  }, []);

  if (session.status === 'unknown') return <FullPageSpin tip={t('auth.loading')} />;
  if (session.status === 'signedOut') {
    return <Navigate to={loginPathFor(location.pathname + location.search, session.reason)} replace />;
  }
  if (me.isPending) return <FullPageSpin tip={t('auth.loading')} />;
  if (!me.data) {
    return (
      <Result
        status="error"
        title={t('auth.meFailed')}
        subTitle={describeAnyError(me.error, t)}
        extra={
          <Space>
            <Button type="primary" onClick={() => void me.refetch()}>
              {t('auth.retry')}
            </Button>
            <Button onClick={() => void signOut()}>{t('auth.logout')}</Button>
          </Space>
        }
      />
    );
  }

  const path = location.pathname;
  if (me.data.must_change_password) {
    return path === CHANGE_PASSWORD_PATH ? <Outlet /> : <Navigate to={CHANGE_PASSWORD_PATH} replace />;
  }
  if (path === CHANGE_PASSWORD_PATH) return <Navigate to={HOME_PATH} replace />;
  // the enrollment page leaves by itself: it must first show the recovery codes once
  if (me.data.mfa_enrollment_required && path !== ENROLL_2FA_PATH) {
    return <Navigate to={ENROLL_2FA_PATH} replace />;
  }
  return <Outlet />;
}

/** Shows `children` to users holding `permission`, a 403 page to everybody else. */
export function RequirePermission({ permission, children }: { permission?: Permission; children: ReactNode }) {
  const can = useCan();
  return can(permission) ? children : <ForbiddenPage permission={permission ?? ''} />;
}
