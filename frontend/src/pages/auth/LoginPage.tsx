import { LockOutlined, SafetyCertificateOutlined, UserOutlined } from '@ant-design/icons';
import { useQueryClient } from '@tanstack/react-query';
import { Alert, Button, Form, Input } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, useSearchParams } from 'react-router';

import { ApiError, toApiError } from '../../api';
import { FullPageSpin } from '../../auth/RequireAuth';
import { acceptTokens, bootstrapSession } from '../../auth/session';
import { useSession } from '../../auth/useSession';
import type { TokenOut } from '../../client';
import { AuthShell } from '../../components/AuthShell';
import { describeError } from '../../errorMessages';
import { HOME_PATH, LOGIN_PATH } from '../../paths';
import { isMfaRequired, useLogin, useLoginSecondFactor } from '../../queries/auth';
import { meQueries } from '../../queries/me';

/** Where to go after signing in: a path inside the console, never another site. */
export function safeNext(next: string | null): string {
  if (!next?.startsWith('/') || next.startsWith('//') || next.startsWith(LOGIN_PATH)) return HOME_PATH;
  return next;
}

interface PasswordValues {
  login: string;
  password: string;
}

interface CodeValues {
  code?: string;
  recovery_code?: string;
}

/** 登录: email or phone + password, then (when 2FA is on) a 6-digit code or a recovery code. */
export function LoginPage() {
  const { t } = useTranslation();
  const session = useSession();
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const login = useLogin();
  const secondFactor = useLoginSecondFactor();
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [recovery, setRecovery] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [codeForm] = Form.useForm<CodeValues>();

  useEffect(() => {
    void bootstrapSession();
  }, []);

  if (session.status === 'unknown') return <FullPageSpin tip={t('auth.loading')} />;
  if (session.status === 'signedIn') return <Navigate to={next} replace />;

  const signedIn = (tokens: TokenOut) => {
    for (const queryKey of meQueries()) queryClient.removeQueries({ queryKey });
    acceptTokens(tokens);
  };

  const explain = (e: unknown) => describeError(e instanceof ApiError ? e : toApiError(e), t);

  const submitPassword = (values: PasswordValues) => {
    setError(null);
    login.mutate(
      { login: values.login.trim(), password: values.password },
      {
        onSuccess: (answer) => {
          if (isMfaRequired(answer)) {
            setMfaToken(answer.mfa_token);
            setRecovery(false);
          } else signedIn(answer);
        },
        onError: (e) => setError(explain(e)),
      },
    );
  };

  const submitCode = (values: CodeValues) => {
    if (!mfaToken) return;
    setError(null);
    const body = recovery
      ? { mfa_token: mfaToken, recovery_code: values.recovery_code?.trim() ?? '' }
      : { mfa_token: mfaToken, code: values.code?.trim() ?? '' };
    secondFactor.mutate(body, {
      onSuccess: signedIn,
      onError: (e) => {
        const problem = e instanceof ApiError ? e : toApiError(e);
        if (problem.code === 'mfa_token_invalid') setMfaToken(null);
        codeForm.resetFields();
        setError(describeError(problem, t));
      },
    });
  };

  const notice =
    session.reason === 'expired' ? (
      <Alert type="warning" showIcon message={t('auth.expired')} style={{ marginBottom: 16 }} />
    ) : session.reason === 'logout' ? (
      <Alert type="success" showIcon message={t('auth.loggedOut')} style={{ marginBottom: 16 }} />
    ) : null;

  const errorAlert = error && (
    <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} data-testid="login-error" />
  );

  if (mfaToken) {
    return (
      <AuthShell title={t('auth.twoFactorTitle')} subtitle={recovery ? t('auth.recoveryCodeHint') : t('auth.twoFactorHint')}>
        <Form form={codeForm} layout="vertical" size="large" requiredMark={false} onFinish={submitCode} data-testid="login-2fa-form">
          {recovery ? (
            <Form.Item
              name="recovery_code"
              label={t('auth.recoveryCode')}
              rules={[{ required: true, whitespace: true, message: t('auth.recoveryCodeRequired') }]}
            >
              <Input
                prefix={<SafetyCertificateOutlined />}
                placeholder={t('auth.recoveryCodePlaceholder')}
                autoComplete="off"
                autoFocus
                data-testid="login-recovery-code"
              />
            </Form.Item>
          ) : (
            <Form.Item
              name="code"
              label={t('auth.code')}
              rules={[{ required: true, pattern: /^\s*\d{6}\s*$/, message: t('auth.codeRequired') }]}
            >
              <Input
                prefix={<SafetyCertificateOutlined />}
                placeholder={t('auth.codePlaceholder')}
                inputMode="numeric"
                autoComplete="one-time-code"
                maxLength={6}
                autoFocus
                className="kameng-code-input"
                data-testid="login-code"
              />
            </Form.Item>
          )}
          {errorAlert}
          <Button type="primary" htmlType="submit" block loading={secondFactor.isPending} data-testid="login-verify">
            {t('auth.verify')}
          </Button>
        </Form>
        <div className="kameng-auth-links">
          <Button
            type="link"
            onClick={() => {
              setRecovery((r) => !r);
              setError(null);
            }}
            data-testid="use-recovery-code"
          >
            {recovery ? t('auth.useTotp') : t('auth.useRecoveryCode')}
          </Button>
          <Button
            type="link"
            onClick={() => {
              setMfaToken(null);
              setError(null);
            }}
          >
            {t('auth.back')}
          </Button>
        </div>
      </AuthShell>
    );
  }

  return (
    <AuthShell title={t('auth.loginTitle')} subtitle={t('auth.loginSubtitle')}>
      {notice}
      <Form<PasswordValues> layout="vertical" size="large" requiredMark={false} onFinish={submitPassword} data-testid="login-form">
        <Form.Item name="login" label={t('auth.account')} rules={[{ required: true, whitespace: true, message: t('auth.accountRequired') }]}>
          <Input
            prefix={<UserOutlined />}
            placeholder={t('auth.accountPlaceholder')}
            autoComplete="username"
            autoFocus
            data-testid="login-account"
          />
        </Form.Item>
        <Form.Item name="password" label={t('auth.password')} rules={[{ required: true, message: t('auth.passwordRequired') }]}>
          <Input.Password prefix={<LockOutlined />} autoComplete="current-password" data-testid="login-password" />
        </Form.Item>
        {errorAlert}
        <Button type="primary" htmlType="submit" block loading={login.isPending} data-testid="login-submit">
          {t('auth.submit')}
        </Button>
      </Form>
    </AuthShell>
  );
}
