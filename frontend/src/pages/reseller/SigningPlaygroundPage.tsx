import { ReloadOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Descriptions, Form, Input, Row, Select, Space, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';

import { curlCommand, NONCE_PATTERN, randomNonce, signRequest, unixNow, type Signed } from '../../signing';

interface Inputs {
  method: string;
  path: string;
  query: string;
  timestamp: string;
  nonce: string;
  body: string;
  secret: string;
  appId: string;
}

/** The string to sign with its line breaks made visible (↵ at the end of each line). */
function StringToSign({ text }: { text: string }) {
  const lines = text.split('\n');
  return (
    <pre className="kameng-pre" data-testid="string-to-sign">
      {lines.map((line, i) => (
        <span key={i}>
          {line}
          {i < lines.length - 1 && <span className="kameng-newline">\n</span>}
          {i < lines.length - 1 && '\n'}
        </span>
      ))}
    </pre>
  );
}

/**
 * 我的对接 › 签名调试: computes what the server computes for a request — in this browser, with
 * Web Crypto (src/signing.ts). The secret stays on this page: it is never sent anywhere.
 */
export function SigningPlaygroundPage() {
  const { t } = useTranslation();
  const [form] = Form.useForm<Inputs>();
  const values = Form.useWatch([], form) as Inputs | undefined;
  const [signed, setSigned] = useState<Signed | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!values) return;
    let stale = false;
    signRequest({ ...values, method: values.method || 'GET', path: values.path || '', query: values.query || '', body: values.body || '', secret: values.secret || '' })
      .then((out) => {
        if (!stale) {
          setSigned(out);
          setError(null);
        }
      })
      .catch((e: unknown) => {
        if (!stale) setError(e instanceof Error ? e.message : String(e));
      });
    return () => {
      stale = true;
    };
  }, [values]);

  const base = window.location.origin;
  const nonceOk = !values?.nonce || NONCE_PATTERN.test(values.nonce);
  const get = values?.method === 'GET';

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <Typography.Title level={4} style={{ margin: 0 }}>
        {t('reseller.signingTitle')}
      </Typography.Title>
      <Typography.Text type="secondary">{t('reseller.signingSubtitle')}</Typography.Text>
      <Alert type="info" showIcon message={t('reseller.secretStaysHere')} data-testid="secret-stays" />
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={10}>
          <Card className="kameng-card" title={t('reseller.request')}>
            <Form<Inputs>
              form={form}
              layout="vertical"
              requiredMark={false}
              initialValues={{ method: 'GET', path: '/open/v1/ping', query: '', timestamp: unixNow(), nonce: randomNonce(), body: '', secret: '', appId: '' }}
              data-testid="signing-form"
            >
              <Row gutter={8}>
                <Col span={8}>
                  <Form.Item name="method" label={t('reseller.method')}>
                    <Select options={['GET', 'POST'].map((m) => ({ value: m, label: m }))} data-testid="sign-method" />
                  </Form.Item>
                </Col>
                <Col span={16}>
                  <Form.Item name="path" label={t('reseller.path')} extra={t('reseller.pathHint')}>
                    <Input data-testid="sign-path" />
                  </Form.Item>
                </Col>
              </Row>
              <Form.Item name="query" label={t('reseller.query')} extra={t('reseller.queryHint')}>
                <Input placeholder="status=delivered&limit=5" data-testid="sign-query" />
              </Form.Item>
              <Row gutter={8}>
                <Col span={10}>
                  <Form.Item label={t('reseller.timestamp')}>
                    <Space.Compact style={{ width: '100%' }}>
                      <Form.Item name="timestamp" noStyle>
                        <Input data-testid="sign-timestamp" />
                      </Form.Item>
                      <Button icon={<ReloadOutlined />} onClick={() => form.setFieldValue('timestamp', unixNow())} aria-label={t('reseller.now')} title={t('reseller.now')} />
                    </Space.Compact>
                  </Form.Item>
                </Col>
                <Col span={14}>
                  <Form.Item label={t('reseller.nonce')} validateStatus={nonceOk ? undefined : 'warning'} help={nonceOk ? undefined : t('reseller.nonceHint')}>
                    <Space.Compact style={{ width: '100%' }}>
                      <Form.Item name="nonce" noStyle>
                        <Input data-testid="sign-nonce" />
                      </Form.Item>
                      <Button icon={<ReloadOutlined />} onClick={() => form.setFieldValue('nonce', randomNonce())} aria-label={t('reseller.newNonce')} title={t('reseller.newNonce')} />
                    </Space.Compact>
                  </Form.Item>
                </Col>
              </Row>
              <Form.Item name="body" label={t('reseller.body')} extra={get ? t('reseller.bodyGet') : t('reseller.bodyHint')}>
                <Input.TextArea rows={4} placeholder='{"out_trade_no":"A-1001","sku_id":7,"quantity":1,"buyer_input":{}}' className="kameng-mono" data-testid="sign-body" />
              </Form.Item>
              <Form.Item name="appId" label="App ID">
                <Input placeholder="ak_…" data-testid="sign-app-id" />
              </Form.Item>
              <Form.Item name="secret" label={t('reseller.secret')} extra={t('reseller.secretPasteHint')}>
                <Input.Password autoComplete="off" data-testid="sign-secret" />
              </Form.Item>
            </Form>
          </Card>
        </Col>
        <Col xs={24} xl={14}>
          <Card className="kameng-card" title={t('reseller.result')}>
            {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} />}
            {signed && (
              <Space direction="vertical" size={12} style={{ width: '100%' }}>
                <Descriptions column={1} size="small" bordered>
                  <Descriptions.Item label={t('reseller.canonicalQuery')}>
                    <Typography.Text code className="kameng-break" data-testid="canonical-query">
                      {signed.canonicalQuery || t('reseller.emptyLine')}
                    </Typography.Text>
                  </Descriptions.Item>
                  <Descriptions.Item label={t('reseller.bodySha')}>
                    <Typography.Text code className="kameng-break" data-testid="body-sha">
                      {signed.bodySha256}
                    </Typography.Text>
                  </Descriptions.Item>
                </Descriptions>
                <div>
                  <Typography.Text strong>{t('reseller.stringToSign')}</Typography.Text>
                  <StringToSign text={signed.stringToSign} />
                </div>
                <div>
                  <Typography.Text strong>X-Kameng-Signature</Typography.Text>
                  <div>
                    {values?.secret ? (
                      <Typography.Text code copyable className="kameng-break" data-testid="signature">
                        {signed.signature}
                      </Typography.Text>
                    ) : (
                      <Typography.Text type="secondary" data-testid="signature">
                        {t('reseller.pasteSecret')}
                      </Typography.Text>
                    )}
                  </div>
                </div>
                {values?.secret && (
                  <div>
                    <Typography.Text strong>curl</Typography.Text>
                    <Typography.Paragraph copyable={{ text: curlCommand(base, { ...values, method: values.method || 'GET' }, signed) }} style={{ marginBottom: 0 }}>
                      <pre className="kameng-pre" data-testid="curl">
                        {curlCommand(base, { ...values, method: values.method || 'GET' }, signed)}
                      </pre>
                    </Typography.Paragraph>
                    <Typography.Text type="secondary">{t('reseller.curlHint')}</Typography.Text>
                  </div>
                )}
              </Space>
            )}
          </Card>
        </Col>
      </Row>
    </Space>
  );
}
