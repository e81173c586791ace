import { SendOutlined, SyncOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Descriptions, Form, Input, Popconfirm, Skeleton, Space, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';

import { toApiError } from '../../api';
import type { CallbackOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeAnyError, describeError } from '../../errorMessages';
import { RESELLER_CALLBACK_LOG_PATH } from '../../paths';
import { useCallbackSettings, usePingCallback, useRotateWebhookSecret, useSetCallbackUrl } from '../../queries/resellers';
import { SecretOnceModal } from './resellerShared';

/** 我的对接 › 回调设置: where callbacks go, the signing secret, a test callback. */
export function ResellerCallbackPage() {
  const { t } = useTranslation();
  const settings = useCallbackSettings();
  const save = useSetCallbackUrl();
  const rotate = useRotateWebhookSecret();
  const ping = usePingCallback();
  const [form] = Form.useForm<{ callback_url: string }>();
  const [urlError, setUrlError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [pinged, setPinged] = useState<CallbackOut | null>(null);
  const [pingError, setPingError] = useState<string | null>(null);

  const submit = ({ callback_url }: { callback_url: string }) => {
    setUrlError(null);
    setSaved(false);
    const url = callback_url.trim();
    save.mutate(url || null, {
      onSuccess: () => setSaved(true),
      onError: (e) => setUrlError(describeError(toApiError(e), t)),
    });
  };

  const sendPing = () => {
    setPinged(null);
    setPingError(null);
    ping.mutate(undefined, { onSuccess: setPinged, onError: (e) => setPingError(describeError(toApiError(e), t)) });
  };

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead title={t('reseller.callbackTitle')} subtitle={t('reseller.callbackSubtitle')} />
      {settings.isError && <Alert type="error" showIcon message={describeAnyError(settings.error, t)} />}
      {settings.isPending ? (
        <Card className="kameng-card">
          <Skeleton active />
        </Card>
      ) : settings.data ? (
        <>
          <Card className="kameng-card" title={t('reseller.callbackUrl')}>
            <Form form={form} layout="vertical" requiredMark={false} initialValues={{ callback_url: settings.data.callback_url ?? '' }} onFinish={submit} style={{ maxWidth: 720 }}>
              <Form.Item
                name="callback_url"
                label={t('reseller.callbackUrl')}
                extra={t('reseller.callbackUrlHint')}
                validateStatus={urlError ? 'error' : undefined}
                help={urlError ?? undefined}
                rules={[{ type: 'url', message: t('reseller.urlInvalid') }]}
              >
                <Input placeholder="https://example.com/kameng/callback" maxLength={512} onChange={() => setUrlError(null)} data-testid="callback-url" />
              </Form.Item>
              <Space>
                <Button type="primary" htmlType="submit" loading={save.isPending} data-testid="callback-save">
                  {t('reseller.save')}
                </Button>
                {saved && <Typography.Text type="success" data-testid="callback-saved">{t('reseller.saved')}</Typography.Text>}
              </Space>
            </Form>
          </Card>
          <Card className="kameng-card" title={t('reseller.webhookSecret')}>
            <Space direction="vertical" size={12} style={{ width: '100%' }}>
              <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
                {t('reseller.webhookSecretHint')}
              </Typography.Paragraph>
              <Space wrap>
                {settings.data.has_webhook_secret ? <Tag color="success">{t('reseller.secretSet')}</Tag> : <Tag>{t('reseller.secretNotSet')}</Tag>}
                <Popconfirm
                  title={t('reseller.rotateSecretConfirm')}
                  description={<div style={{ maxWidth: 320 }}>{t('reseller.rotateSecretExplain')}</div>}
                  onConfirm={() => rotate.mutate(undefined, { onSuccess: (out) => setSecret(out.webhook_secret) })}
                  okButtonProps={{ 'data-testid': 'webhook-rotate-confirm' }}
                >
                  <Button icon={<SyncOutlined />} loading={rotate.isPending} data-testid="webhook-rotate">
                    {settings.data.has_webhook_secret ? t('reseller.rotateSecret') : t('reseller.makeSecret')}
                  </Button>
                </Popconfirm>
              </Space>
            </Space>
          </Card>
          <Card className="kameng-card" title={t('reseller.testCallback')}>
            <Space direction="vertical" size={12} style={{ width: '100%' }}>
              <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
                {t('reseller.testCallbackHint')}
              </Typography.Paragraph>
              <div>
                <Button icon={<SendOutlined />} loading={ping.isPending} onClick={sendPing} disabled={!settings.data.callback_url} data-testid="callback-ping">
                  {t('reseller.sendPing')}
                </Button>
              </div>
              {pingError && <Alert type="error" showIcon message={pingError} data-testid="ping-error" />}
              {pinged && (
                <Alert
                  type="info"
                  showIcon
                  data-testid="ping-sent"
                  message={t('reseller.pingQueued')}
                  description={
                    <Descriptions size="small" column={1}>
                      <Descriptions.Item label="webhook-id">{pinged.webhook_id}</Descriptions.Item>
                      <Descriptions.Item label="URL">{pinged.url}</Descriptions.Item>
                    </Descriptions>
                  }
                  action={<Link to={RESELLER_CALLBACK_LOG_PATH}>{t('reseller.viewLog')}</Link>}
                />
              )}
            </Space>
          </Card>
        </>
      ) : null}
      <SecretOnceModal open={secret !== null} title={t('reseller.webhookSecretTitle')} secret={secret ?? ''} onClose={() => setSecret(null)} />
    </Space>
  );
}
