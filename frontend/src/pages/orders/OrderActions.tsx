import { Alert, Descriptions, Form, Input, InputNumber, Modal, Radio, type FormInstance } from 'antd';
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

import type { AdminOrderOut } from '../../client';
import { money, yuan } from '../../format';
import { useConfirmPaid, useDeliverManually, useRedeliver, useRefundOrder } from '../../queries/orders';
import { AMOUNT, cents, orderErrorText, reasonRule } from './ordersShared';

interface ActionProps {
  open: boolean;
  order: AdminOrderOut;
  onClose: () => void;
  onDone: (order: AdminOrderOut) => void;
}

/** What is left to refund: total − refunded, as "12.50". */
export function refundable(order: Pick<AdminOrderOut, 'total' | 'refunded_total'>): string {
  const left = (cents(order.total) ?? 0n) - (cents(order.refunded_total) ?? 0n);
  const abs = left < 0n ? 0n : left;
  return `${(abs / 100n).toString()}.${(abs % 100n).toString().padStart(2, '0')}`;
}

interface OrderMutation<V> {
  mutate: (vars: V, callbacks: { onSuccess: (out: AdminOrderOut) => void; onError: (e: unknown) => void }) => void;
  isPending: boolean;
  reset: () => void;
}

/** Run an order action once at a time; on success hand the new order up and close, on a
 * refusal keep the dialog open with the reason. */
function useOrderAction<V>(mutation: OrderMutation<V>, { onClose, onDone }: Pick<ActionProps, 'onClose' | 'onDone'>) {
  const { t, i18n } = useTranslation();
  const [error, setError] = useState<string | null>(null);
  const run = (vars: V) => {
    if (mutation.isPending) return;
    setError(null);
    mutation.mutate(vars, {
      onSuccess: (out) => {
        onDone(out);
        onClose();
      },
      onError: (e) => setError(orderErrorText(e, t, i18n.language === 'en')),
    });
  };
  const reset = () => {
    setError(null);
    mutation.reset();
  };
  return { error, run, reset, pending: mutation.isPending };
}

interface ShellProps {
  open: boolean;
  title: string;
  okText: string;
  /** prefix of the test ids: `<testid>-confirm`, `<testid>-error` */
  testid: string;
  danger?: boolean;
  width?: number;
  action: { error: string | null; pending: boolean; reset: () => void };
  form: FormInstance;
  onClose: () => void;
  children: ReactNode;
}

/** The dialog every order action shares: confirm submits the form, closing resets it, a
 * refusal shows under the form. */
function ActionShell({ open, title, okText, testid, danger, width = 480, action, form, onClose, children }: ShellProps) {
  return (
    <Modal
      open={open}
      title={title}
      okText={okText}
      okButtonProps={{ danger, loading: action.pending, 'data-testid': `${testid}-confirm` }}
      onOk={() => form.submit()}
      onCancel={onClose}
      afterClose={() => {
        form.resetFields();
        action.reset();
      }}
      forceRender
      width={width}
    >
      {children}
      {action.error && <Alert type="error" showIcon message={action.error} data-testid={`${testid}-error`} />}
    </Modal>
  );
}

interface RefundValues {
  mode: 'all' | 'part';
  amount?: string;
  reason: string;
}

/** 退款: all that is left or a part of it, with a reason; the API asks for a fresh 2FA (the
 * step-up dialog opens in between). The money goes to the buyer's balance. */
export function RefundModal({ open, order, onClose, onDone }: ActionProps) {
  const { t } = useTranslation();
  const [form] = Form.useForm<RefundValues>();
  const action = useOrderAction(useRefundOrder(), { onClose, onDone });
  const mode = Form.useWatch<RefundValues['mode'] | undefined>('mode', form) ?? 'all';
  const left = refundable(order);

  const submit = (values: RefundValues) =>
    action.run({ orderNo: order.order_no, amount: values.mode === 'part' ? (values.amount ?? '').trim() : null, reason: values.reason.trim() });

  return (
    <ActionShell
      open={open}
      title={t('orders.admin.refundTitle', { no: order.order_no })}
      okText={t('orders.admin.refundConfirm')}
      testid="refund"
      danger
      action={action}
      form={form}
      onClose={onClose}
    >
      <Alert type="warning" showIcon message={t('orders.admin.refundHint')} style={{ marginBottom: 16 }} />
      <Descriptions size="small" column={2} bordered style={{ marginBottom: 16 }}>
        <Descriptions.Item label={t('orders.total')}>{yuan(order.total)}</Descriptions.Item>
        <Descriptions.Item label={t('orders.admin.refundable')}>
          <span className="kameng-amount" data-testid="refund-left">
            {yuan(left)}
          </span>
        </Descriptions.Item>
      </Descriptions>
      <Form<RefundValues>
        form={form}
        layout="vertical"
        initialValues={{ mode: 'all', amount: '', reason: '' }}
        onFinish={submit}
        requiredMark={false}
        data-testid="refund-form"
      >
        <Form.Item name="mode">
          <Radio.Group optionType="button" buttonStyle="solid">
            <Radio.Button value="all" data-testid="refund-all">
              {t('orders.admin.refundAll')}
            </Radio.Button>
            <Radio.Button value="part" data-testid="refund-part">
              {t('orders.admin.refundPart')}
            </Radio.Button>
          </Radio.Group>
        </Form.Item>
        {mode === 'part' && (
          <Form.Item
            name="amount"
            label={t('orders.admin.refundAmount')}
            rules={[
              {
                validator: (_, value: string | undefined) => {
                  const text = (value ?? '').trim();
                  const asked = AMOUNT.test(text) ? cents(text) : null;
                  const most = cents(left) ?? 0n;
                  return asked !== null && asked > 0n && asked <= most ? Promise.resolve() : Promise.reject(new Error(t('orders.admin.amountRequired')));
                },
              },
            ]}
          >
            <Input prefix="¥" placeholder={money(left)} inputMode="decimal" autoComplete="off" data-testid="refund-amount" />
          </Form.Item>
        )}
        <Form.Item name="reason" label={t('orders.admin.reason')} rules={[reasonRule(t)]}>
          <Input.TextArea rows={2} maxLength={200} showCount placeholder={t('orders.admin.refundReasonPlaceholder')} data-testid="refund-reason" />
        </Form.Item>
      </Form>
    </ActionShell>
  );
}

interface RedeliverValues {
  quantity: number;
  reason: string;
}

/** 补发: more keys from stock for a delivered card-key order, with a reason. */
export function RedeliverModal({ open, order, onClose, onDone }: ActionProps) {
  const { t } = useTranslation();
  const [form] = Form.useForm<RedeliverValues>();
  const action = useOrderAction(useRedeliver(), { onClose, onDone });
  const submit = (values: RedeliverValues) =>
    action.run({ orderNo: order.order_no, quantity: values.quantity, reason: values.reason.trim() });

  return (
    <ActionShell
      open={open}
      title={t('orders.admin.redeliverTitle', { no: order.order_no })}
      okText={t('orders.admin.redeliverConfirm')}
      testid="redeliver"
      action={action}
      form={form}
      onClose={onClose}
    >
      <Alert type="info" showIcon message={t('orders.admin.redeliverHint')} style={{ marginBottom: 16 }} />
      <Form<RedeliverValues>
        form={form}
        layout="vertical"
        initialValues={{ quantity: 1, reason: '' }}
        onFinish={submit}
        requiredMark={false}
        data-testid="redeliver-form"
      >
        <Form.Item
          name="quantity"
          label={t('orders.admin.redeliverQuantity')}
          rules={[{ required: true, type: 'integer', min: 1, max: order.quantity, message: `1–${order.quantity}` }]}
        >
          <InputNumber min={1} max={order.quantity} precision={0} style={{ width: 140 }} data-testid="redeliver-quantity" />
        </Form.Item>
        <Form.Item name="reason" label={t('orders.admin.reason')} rules={[reasonRule(t)]}>
          <Input.TextArea rows={2} maxLength={200} showCount placeholder={t('orders.admin.redeliverReasonPlaceholder')} data-testid="redeliver-reason" />
        </Form.Item>
      </Form>
    </ActionShell>
  );
}

/** 手动确认收款: the money arrived without a notice; with a reason and a fresh 2FA. */
export function ConfirmPaidModal({ open, order, onClose, onDone }: ActionProps) {
  const { t } = useTranslation();
  const [form] = Form.useForm<{ reason: string }>();
  const action = useOrderAction(useConfirmPaid(), { onClose, onDone });
  const submit = (values: { reason: string }) => action.run({ orderNo: order.order_no, reason: values.reason.trim() });

  return (
    <ActionShell
      open={open}
      title={t('orders.admin.confirmPaidTitle', { no: order.order_no })}
      okText={t('orders.admin.confirmPaidConfirm')}
      testid="confirm-paid"
      action={action}
      form={form}
      onClose={onClose}
    >
      <Alert type="warning" showIcon message={t('orders.admin.confirmPaidHint')} style={{ marginBottom: 16 }} />
      <Descriptions size="small" column={1} bordered style={{ marginBottom: 16 }}>
        <Descriptions.Item label={t('orders.total')}>{yuan(order.total)}</Descriptions.Item>
      </Descriptions>
      <Form form={form} layout="vertical" initialValues={{ reason: '' }} onFinish={submit} requiredMark={false} data-testid="confirm-paid-form">
        <Form.Item name="reason" label={t('orders.admin.reason')} rules={[reasonRule(t)]}>
          <Input.TextArea rows={2} maxLength={200} showCount placeholder={t('orders.admin.confirmPaidReasonPlaceholder')} data-testid="confirm-paid-reason" />
        </Form.Item>
      </Form>
    </ActionShell>
  );
}

interface DeliverValues {
  content: string;
  note: string;
}

/** 人工发货: staff type what the buyer gets for a manual product (account, code, instructions). */
export function DeliverModal({ open, order, onClose, onDone }: ActionProps) {
  const { t } = useTranslation();
  const [form] = Form.useForm<DeliverValues>();
  const action = useOrderAction(useDeliverManually(), { onClose, onDone });
  const submit = (values: DeliverValues) =>
    action.run({ orderNo: order.order_no, content: values.content.trim(), note: values.note.trim() });

  return (
    <ActionShell
      open={open}
      title={t('orders.admin.deliverTitle', { no: order.order_no })}
      okText={t('orders.admin.deliverConfirm')}
      testid="deliver"
      width={560}
      action={action}
      form={form}
      onClose={onClose}
    >
      <Alert type="info" showIcon message={t('orders.admin.deliverHint')} style={{ marginBottom: 16 }} />
      <Form<DeliverValues>
        form={form}
        layout="vertical"
        initialValues={{ content: '', note: '' }}
        onFinish={submit}
        requiredMark={false}
        data-testid="deliver-form"
      >
        <Form.Item
          name="content"
          label={t('orders.admin.deliverContent')}
          rules={[{ required: true, whitespace: true, max: 4000, message: t('orders.admin.deliverContentRequired') }]}
        >
          <Input.TextArea rows={5} maxLength={4000} showCount placeholder={t('orders.admin.deliverContentPlaceholder')} data-testid="deliver-content" />
        </Form.Item>
        <Form.Item name="note" label={t('orders.admin.deliverNote')} rules={[{ max: 200 }]}>
          <Input maxLength={200} data-testid="deliver-note" />
        </Form.Item>
      </Form>
    </ActionShell>
  );
}
