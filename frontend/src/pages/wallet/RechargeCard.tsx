import { CreditCardOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Form, Input, Space, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

import { browser } from '../../browser';
import { useRecharge } from '../../queries/wallet';
import { AMOUNT, cents, orderErrorText } from '../orders/ordersShared';

/** The API's bound for one recharge (payments/service.py MAX_RECHARGE). */
const MAX_RECHARGE_CENTS = 5_000_000n;
const PRESETS = ['50', '100', '200', '500'];

/** 充值: an amount → the gateway's pay page; the gateway brings the buyer back to 我的余额,
 * where the balance shows the money once the payment is confirmed. */
export function RechargeCard() {
  const { t, i18n } = useTranslation();
  const [form] = Form.useForm<{ amount: string }>();
  const recharge = useRecharge();
  const [leaving, setLeaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const busy = recharge.isPending || leaving;

  const submit = ({ amount }: { amount: string }) => {
    if (busy) return;
    setError(null);
    recharge.mutate(amount.trim(), {
      onSuccess: (out) => {
        setLeaving(true);
        browser.leaveTo(out.pay_url);
      },
      onError: (e) => setError(orderErrorText(e, t, i18n.language === 'en')),
    });
  };

  return (
    <Card className="kameng-card" title={t('wallet.recharge')} data-testid="recharge-card">
      <Typography.Paragraph type="secondary">{t('wallet.rechargeHint')}</Typography.Paragraph>
      <Form form={form} layout="inline" initialValues={{ amount: '' }} onFinish={submit} requiredMark={false} disabled={busy} data-testid="recharge-form">
        <Form.Item
          name="amount"
          label={t('wallet.rechargeAmount')}
          rules={[
            {
              validator: (_, value: string | undefined) => {
                const text = (value ?? '').trim();
                const asked = AMOUNT.test(text) ? cents(text) : null;
                return asked !== null && asked > 0n && asked <= MAX_RECHARGE_CENTS
                  ? Promise.resolve()
                  : Promise.reject(new Error(t('wallet.rechargeAmountRequired')));
              },
            },
          ]}
        >
          <Input prefix="¥" placeholder="0.00" inputMode="decimal" autoComplete="off" style={{ width: 160 }} data-testid="recharge-amount" />
        </Form.Item>
        <Form.Item>
          <Space size={4} wrap>
            {PRESETS.map((p) => (
              <Button key={p} onClick={() => form.setFieldsValue({ amount: p })} data-testid={`recharge-preset-${p}`}>
                ¥{p}
              </Button>
            ))}
          </Space>
        </Form.Item>
        <Form.Item>
          <Button type="primary" htmlType="submit" icon={<CreditCardOutlined />} loading={busy} data-testid="recharge-submit">
            {leaving ? t('wallet.rechargeRedirecting') : t('wallet.rechargeSubmit')}
          </Button>
        </Form.Item>
      </Form>
      {error && <Alert type="error" showIcon message={error} style={{ marginTop: 12 }} data-testid="recharge-error" />}
    </Card>
  );
}
