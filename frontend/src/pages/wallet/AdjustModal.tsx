import { Alert, Descriptions, Form, Input, Modal, Radio, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

import { toApiError } from '../../api';
import type { AdjustOut } from '../../client';
import { describeError } from '../../errorMessages';
import { money, yuan } from '../../format';
import { useAdjust } from '../../queries/wallet';

type Direction = 'credit' | 'debit';

interface Values {
  direction: Direction;
  amount: string;
  reason: string;
}

/** Up to 8 digits of yuan and 2 of fen, more than 0. */
const AMOUNT = /^\d{1,8}(\.\d{1,2})?$/;

/** "250.5" → 25050n (cents); null when it is not an amount. */
function cents(value: string | null | undefined): bigint | null {
  const text = money(value);
  return /^-?\d+\.\d{2}$/.test(text) ? BigInt(text.replace('.', '')) : null;
}

function fromCents(value: bigint): string {
  const abs = value < 0n ? -value : value;
  return `${value < 0n ? '-' : ''}${(abs / 100n).toString()}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/**
 * 调账: direction (增加 / 扣减), amount and a reason. The API asks for a fresh 2FA (the step-up
 * dialog opens in between); refusals (insufficient_balance, bad_amount, ...) show in the dialog.
 */
export function AdjustModal({
  open,
  userId,
  name,
  balance,
  onClose,
  onDone,
}: {
  open: boolean;
  userId: number;
  name: string;
  balance: string | undefined;
  onClose: () => void;
  onDone: (out: AdjustOut) => void;
}) {
  const { t } = useTranslation();
  const [form] = Form.useForm<Values>();
  const adjust = useAdjust();
  const [error, setError] = useState<string | null>(null);
  const direction = Form.useWatch<Direction | undefined>('direction', form) ?? 'credit';
  const amount = Form.useWatch<string | undefined>('amount', form) ?? '';

  const before = cents(balance);
  const delta = AMOUNT.test(amount.trim()) ? cents(amount.trim()) : null;
  const after = before !== null && delta !== null ? before + (direction === 'credit' ? delta : -delta) : null;

  const submit = (values: Values) => {
    setError(null);
    const signed = `${values.direction === 'debit' ? '-' : ''}${values.amount.trim()}`;
    adjust.mutate(
      { user_id: userId, amount: signed, reason: values.reason.trim() },
      {
        onSuccess: (out) => {
          onDone(out);
          onClose();
        },
        onError: (e) => setError(describeError(toApiError(e), t)),
      },
    );
  };

  return (
    <Modal
      open={open}
      title={t('wallet.adjustTitle', { name })}
      okText={t('wallet.adjustConfirm')}
      okButtonProps={{ loading: adjust.isPending, 'data-testid': 'adjust-confirm' }}
      onOk={() => form.submit()}
      onCancel={onClose}
      afterClose={() => {
        form.resetFields();
        setError(null);
        adjust.reset();
      }}
      forceRender
      width={480}
    >
      <Alert type="warning" showIcon message={t('wallet.adjustHint')} style={{ marginBottom: 16 }} />
      <Form<Values>
        form={form}
        layout="vertical"
        initialValues={{ direction: 'credit', amount: '', reason: '' }}
        onFinish={submit}
        requiredMark={false}
        data-testid="adjust-form"
      >
        <Form.Item name="direction" label={t('wallet.direction')}>
          <Radio.Group optionType="button" buttonStyle="solid" data-testid="adjust-direction">
            <Radio.Button value="credit" data-testid="adjust-credit">
              {t('wallet.credit')}
            </Radio.Button>
            <Radio.Button value="debit" data-testid="adjust-debit">
              {t('wallet.debit')}
            </Radio.Button>
          </Radio.Group>
        </Form.Item>
        <Form.Item
          name="amount"
          label={t('wallet.adjustAmount')}
          rules={[
            {
              validator: (_, value: string | undefined) =>
                AMOUNT.test((value ?? '').trim()) && Number(value) > 0 ? Promise.resolve() : Promise.reject(new Error(t('wallet.amountRequired'))),
            },
          ]}
        >
          <Input prefix={direction === 'credit' ? '+ ¥' : '- ¥'} placeholder="0.00" inputMode="decimal" autoComplete="off" data-testid="adjust-amount" />
        </Form.Item>
        <Form.Item
          name="reason"
          label={t('wallet.reason')}
          rules={[
            {
              validator: (_, value: string | undefined) => {
                const length = (value ?? '').trim().length;
                return length >= 2 && length <= 255 ? Promise.resolve() : Promise.reject(new Error(t('wallet.reasonRequired')));
              },
            },
          ]}
        >
          <Input.TextArea rows={2} maxLength={255} showCount placeholder={t('wallet.reasonPlaceholder')} data-testid="adjust-reason" />
        </Form.Item>
      </Form>
      <Descriptions size="small" column={2} bordered>
        <Descriptions.Item label={t('wallet.balance')}>{yuan(balance)}</Descriptions.Item>
        <Descriptions.Item label={t('wallet.preview')}>
          {after === null ? (
            '—'
          ) : (
            <Typography.Text type={after < 0n ? 'danger' : undefined} strong data-testid="adjust-preview">
              {yuan(fromCents(after))}
            </Typography.Text>
          )}
        </Descriptions.Item>
      </Descriptions>
      {error && <Alert type="error" showIcon message={error} style={{ marginTop: 12 }} data-testid="adjust-error" />}
    </Modal>
  );
}
