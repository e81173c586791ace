import { SafetyCertificateOutlined } from '@ant-design/icons';
import { useQueryClient } from '@tanstack/react-query';
import { Alert, App, Button, Form, Input, Modal, Typography } from 'antd';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';

import { unwrap } from '../api';
import { authStepUp } from '../client';
import { describeAnyError } from '../errorMessages';
import { SECURITY_PATH } from '../paths';
import { meGetQueryKey } from '../queries/me';
import { setEnrollmentGuide, setStepUpPrompt } from './stepUp';

interface Values {
  code?: string;
  recovery_code?: string;
}

/**
 * The step-up dialog behind auth/stepUp.ts: mounted once in the console layout, it registers
 * itself as the prompt. Confirming POSTs /auth/step-up; the request that needed it is then
 * sent again by the API layer.
 */
export function StepUpModal() {
  const { t } = useTranslation();
  const { modal } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<Values>();
  const [open, setOpen] = useState(false);
  const [recovery, setRecovery] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const resolver = useRef<((ok: boolean) => void) | null>(null);

  useEffect(
    () =>
      setStepUpPrompt(
        () =>
          new Promise<boolean>((resolve) => {
            resolver.current = resolve;
            form.resetFields();
            setRecovery(false);
            setError(null);
            setOpen(true);
          }),
      ),
    [form],
  );

  useEffect(
    () =>
      setEnrollmentGuide(() => {
        void modal.confirm({
          title: t('stepUp.enrollTitle'),
          content: t('stepUp.enrollBody'),
          okText: t('stepUp.enrollGo'),
          cancelText: t('stepUp.cancel'),
          onOk: () => void navigate(SECURITY_PATH),
        });
      }),
    [modal, navigate, t],
  );

  const finish = (ok: boolean) => {
    setOpen(false);
    resolver.current?.(ok);
    resolver.current = null;
  };

  const submit = async (values: Values) => {
    setBusy(true);
    setError(null);
    try {
      const body = recovery
        ? { recovery_code: values.recovery_code?.trim() ?? '' }
        : { code: values.code?.trim() ?? '' };
      await unwrap(authStepUp({ body, throwOnError: true }));
      void queryClient.invalidateQueries({ queryKey: meGetQueryKey() });
      finish(true);
    } catch (e) {
      setError(describeAnyError(e, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={open}
      forceRender
      title={
        <span>
          <SafetyCertificateOutlined style={{ color: '#1677ff', marginRight: 8 }} />
          {t('stepUp.title')}
        </span>
      }
      onCancel={() => finish(false)}
      footer={[
        <Button key="cancel" onClick={() => finish(false)}>
          {t('stepUp.cancel')}
        </Button>,
        <Button key="ok" type="primary" loading={busy} onClick={() => form.submit()} data-testid="step-up-confirm">
          {t('stepUp.confirm')}
        </Button>,
      ]}
      width={420}
    >
      <Typography.Paragraph type="secondary">{recovery ? t('auth.recoveryCodeHint') : t('stepUp.hint')}</Typography.Paragraph>
      <Form form={form} layout="vertical" onFinish={(v) => void submit(v)} requiredMark={false}>
        {recovery ? (
          <Form.Item name="recovery_code" label={t('auth.recoveryCode')} rules={[{ required: true, message: t('auth.recoveryCodeRequired') }]}>
            <Input placeholder={t('auth.recoveryCodePlaceholder')} autoComplete="off" data-testid="step-up-recovery-code" />
          </Form.Item>
        ) : (
          <Form.Item
            name="code"
            label={t('auth.code')}
            rules={[{ required: true, pattern: /^\s*\d{6}\s*$/, message: t('auth.codeRequired') }]}
          >
            <Input
              placeholder={t('auth.codePlaceholder')}
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={6}
              className="kameng-code-input"
              data-testid="step-up-code"
              autoFocus
            />
          </Form.Item>
        )}
      </Form>
      {error && <Alert type="error" showIcon message={error} data-testid="step-up-error" style={{ marginBottom: 12 }} />}
      <Button type="link" style={{ padding: 0 }} onClick={() => setRecovery((r) => !r)}>
        {recovery ? t('auth.useTotp') : t('auth.useRecoveryCode')}
      </Button>
    </Modal>
  );
}
