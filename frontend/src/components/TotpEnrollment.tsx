import { CopyOutlined } from '@ant-design/icons';
import { Alert, App, Button, Form, Input, QRCode, Result, Skeleton, Space, Steps, Typography } from 'antd';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';

import { ApiError } from '../api';
import { describeAnyError } from '../errorMessages';
import { useEnable2fa, useStart2fa } from '../queries/me';
import { copyText, RecoveryCodes } from './RecoveryCodes';

/**
 * Turn on TOTP 2FA: a new secret (QR code of its otpauth URI, and the secret as text for
 * typing in by hand), a first code to confirm, then the recovery codes — shown once.
 */
export function TotpEnrollment({ onDone }: { onDone: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const start = useStart2fa();
  const enable = useEnable2fa();
  const [codes, setCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const started = useRef(false);
  const { mutate: startSetup } = start;

  useEffect(() => {
    // once per mount (StrictMode runs effects twice; a second secret would replace the first)
    if (started.current) return;
    started.current = true;
    startSetup();
  }, [startSetup]);

  const step = codes ? 2 : start.data ? 1 : 0;

  const body = (() => {
    if (codes) return <RecoveryCodes codes={codes} onDone={onDone} />;
    if (start.isPending || start.isIdle) return <Skeleton active paragraph={{ rows: 6 }} />;
    if (start.error) {
      const already = start.error instanceof ApiError && start.error.code === 'mfa_already_enabled';
      return (
        <Result
          status={already ? 'success' : 'error'}
          title={already ? t('twoFactor.alreadyOn') : t('twoFactor.startFailed')}
          subTitle={already ? null : describeAnyError(start.error, t)}
          extra={
            already ? (
              <Button type="primary" onClick={onDone}>
                {t('twoFactor.done')}
              </Button>
            ) : (
              <Button onClick={() => startSetup()}>{t('auth.retry')}</Button>
            )
          }
        />
      );
    }
    const setup = start.data;
    return (
      <div className="kameng-enroll">
        <div className="kameng-enroll-qr">
          <QRCode value={setup.otpauth_uri} type="svg" size={184} bordered data-testid="totp-qr" />
        </div>
        <Space direction="vertical" size={12} className="kameng-enroll-side">
          <Typography.Text>{t('twoFactor.scanHint')}</Typography.Text>
          <Typography.Text type="secondary">{t('twoFactor.manualHint')}</Typography.Text>
          <Space wrap>
            <code className="kameng-secret" data-testid="totp-secret">
              {setup.secret}
            </code>
            <Button
              size="small"
              icon={<CopyOutlined />}
              onClick={() =>
                void copyText(setup.secret).then((ok) =>
                  ok ? message.success(t('twoFactor.copied')) : message.warning(t('twoFactor.copyFailed')),
                )
              }
            >
              {t('twoFactor.copySecret')}
            </Button>
          </Space>
          <Form
            layout="vertical"
            requiredMark={false}
            onFinish={(values: { code: string }) => {
              setError(null);
              enable.mutate(values.code.trim(), {
                onSuccess: (out) => setCodes(out.recovery_codes),
                onError: (e) => setError(describeAnyError(e, t)),
              });
            }}
          >
            <Form.Item
              name="code"
              label={t('twoFactor.codeHint')}
              rules={[{ required: true, pattern: /^\s*\d{6}\s*$/, message: t('auth.codeRequired') }]}
            >
              <Input
                placeholder={t('auth.codePlaceholder')}
                inputMode="numeric"
                autoComplete="one-time-code"
                maxLength={6}
                className="kameng-code-input"
                data-testid="totp-code"
              />
            </Form.Item>
            {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 12 }} data-testid="totp-error" />}
            <Button type="primary" htmlType="submit" loading={enable.isPending} data-testid="enable-2fa-submit">
              {t('twoFactor.enable')}
            </Button>
          </Form>
        </Space>
      </div>
    );
  })();

  return (
    <Space direction="vertical" size={20} style={{ width: '100%' }}>
      <Steps
        size="small"
        current={step}
        items={[{ title: t('twoFactor.stepScan') }, { title: t('twoFactor.stepVerify') }, { title: t('twoFactor.stepSave') }]}
      />
      {body}
    </Space>
  );
}
