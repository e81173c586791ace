import { CopyOutlined } from '@ant-design/icons';
import { App, Button, Card, Descriptions, Empty, Result, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import type { TFunction } from 'i18next';
import type { HTMLAttributes, ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

import { ApiError, toApiError } from '../../api';
import type { DeliveredKeyOut, OrderOut } from '../../client';
import { describeError } from '../../errorMessages';
import { localizedDetail, money, yuan } from '../../format';
import type { OrderStatus } from '../../queries/orders';

const STATUS_COLORS: Record<OrderStatus, string> = {
  pending_payment: 'gold',
  paid: 'blue',
  delivering: 'processing',
  delivered: 'green',
  partially_delivered: 'orange',
  failed: 'red',
  refunded: 'purple',
  expired: 'default',
};

/** 待支付 / 已支付 / 发货中 / 已发货 / 部分发货 / 失败 / 已退款 / 已过期 */
export function OrderStatusTag({ status, testid }: { status: OrderStatus; testid?: string }) {
  const { t } = useTranslation();
  return (
    <Tag color={STATUS_COLORS[status]} data-testid={testid} data-status={status}>
      {t(`orders.statuses.${status}`)}
    </Tag>
  );
}

/** 余额 / 在线支付; "—" before a method was chosen. */
export function payMethodText(t: TFunction, method: string | null): string {
  if (method === 'balance' || method === 'epay') return t(`orders.payMethods.${method}`);
  return method ?? '—';
}

/** "base" / "member:2" / "reseller:1" / "tier:10" (the pricing rule that won) in words. */
export function priceRuleText(t: TFunction, rule: string): string {
  const [kind, arg = ''] = rule.split(':');
  if (kind === 'base') return t('shop.priceRules.base');
  if (kind === 'member') return t('shop.priceRules.memberLevel', { level: arg });
  if (kind === 'reseller') return t('shop.priceRules.resellerTier', { level: arg });
  if (kind === 'tier') return t('shop.priceRules.tier', { count: Number(arg) });
  return rule;
}

/** Codes whose server detail says more than our sentence (numbers: limits, amounts). */
const DETAILED = new Set(['bad_amount', 'per_user_limit', 'quantity_out_of_range']);

/** The sentence for an order action's refusal, in the UI language. */
export function orderErrorText(error: unknown, t: TFunction, english: boolean): string {
  const e = error instanceof ApiError ? error : toApiError(error);
  if (DETAILED.has(e.code) && e.detail) return localizedDetail(e.detail, english);
  return describeError(e, t);
}

/** "250.5" → 25050n (cents); null when it is not an amount. */
export function cents(value: string | null | undefined): bigint | null {
  const text = money(value);
  return /^-?\d+\.\d{2}$/.test(text) ? BigInt(text.replace('.', '')) : null;
}

/** Up to 8 digits of yuan and 2 of fen. */
export const AMOUNT = /^\d{1,8}(\.\d{1,2})?$/;

/** A reason of 2–200 characters (what the API takes for staff actions). */
export function reasonRule(t: TFunction) {
  return {
    validator: (_: unknown, value: string | undefined) => {
      const length = (value ?? '').trim().length;
      return length >= 2 && length <= 200 ? Promise.resolve() : Promise.reject(new Error(t('orders.admin.reasonRequired')));
    },
  };
}

/** What the buyer filled in at order time (field labels when known, else the keys). */
export function BuyerInput({ order, labels }: { order: Pick<OrderOut, 'buyer_input'>; labels?: ReadonlyMap<string, string> }) {
  const entries = Object.entries(order.buyer_input);
  if (entries.length === 0) return null;
  return (
    <Descriptions
      size="small"
      column={1}
      data-testid="buyer-input"
      items={entries.map(([key, value]) => ({
        key,
        label: labels?.get(key) ?? key,
        children: typeof value === 'string' || typeof value === 'number' ? String(value) : JSON.stringify(value),
      }))}
    />
  );
}

/** The delivered card keys: card number and secret, each with a copy button, and "copy all". */
export function KeysTable({ keys }: { keys: DeliveredKeyOut[] }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const rows = keys.map((k, i) => ({ ...k, seq: i + 1 }));
  const withCardNo = keys.some((k) => k.card_no);

  const copyAll = async () => {
    const text = keys.map((k) => (k.card_no ? `${k.card_no} ${k.secret}` : k.secret)).join('\n');
    try {
      await navigator.clipboard.writeText(text);
      void message.success(t('orders.copiedAll'));
    } catch (e) {
      void message.error(e instanceof Error ? e.message : String(e)); // no clipboard (not a secure context)
    }
  };

  const columns: ColumnsType<(typeof rows)[number]> = [
    { title: '#', dataIndex: 'seq', width: 56 },
    ...(withCardNo
      ? [
          {
            title: t('orders.cardNo'),
            dataIndex: 'card_no',
            render: (v: string | null, k: (typeof rows)[number]) =>
              v ? (
                <Typography.Text copyable={{ text: v }} className="kameng-key-text" data-testid={`key-card-no-${k.seq}`}>
                  {v}
                </Typography.Text>
              ) : (
                '—'
              ),
          },
        ]
      : []),
    {
      title: t('orders.secret'),
      dataIndex: 'secret',
      render: (v: string, k) => (
        <Typography.Text copyable={{ text: v }} strong className="kameng-key-text" data-testid={`key-secret-${k.seq}`}>
          {v}
        </Typography.Text>
      ),
    },
  ];

  if (keys.length === 0) return <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('orders.noKeysYet')} />;
  return (
    <>
      <Table
        rowKey="seq"
        size="middle"
        dataSource={rows}
        columns={columns}
        pagination={false}
        onRow={(k) => ({ 'data-testid': `key-row-${k.seq}` }) as HTMLAttributes<HTMLElement>}
        data-testid="order-keys"
      />
      <div className="kameng-keys-foot">
        <Typography.Text type="secondary">
          {t('orders.keysCount', { count: keys.length })} · {t('orders.keysHint')}
        </Typography.Text>
        <Button size="small" icon={<CopyOutlined />} onClick={() => void copyAll()} data-testid="copy-all-keys">
          {t('orders.copyAll')}
        </Button>
      </div>
    </>
  );
}

/** An order page that could not load its order: 404 (not yours, or no such order) or the
 * error, with a way back. */
export function OrderLoadFailed({ error, orderNo, back }: { error: unknown; orderNo: string; back: ReactNode }) {
  const { t, i18n } = useTranslation();
  const missing = error instanceof ApiError && error.status === 404;
  return (
    <Card className="kameng-card">
      <Result
        status={missing ? '404' : 'error'}
        title={missing ? t('orders.notFound') : t('errors.requestFailed')}
        subTitle={missing ? orderNo : orderErrorText(error, t, i18n.language === 'en')}
        extra={back}
      />
    </Card>
  );
}

/** The amount and status columns every order list shows (`testid` prefixes the status tag). */
export function amountAndStatusColumns<T extends Pick<OrderOut, 'total' | 'status' | 'order_no'>>(t: TFunction, testid: string): ColumnsType<T> {
  return [
    {
      title: t('orders.total'),
      dataIndex: 'total',
      width: 120,
      align: 'right',
      render: (v: string) => <span className="kameng-amount">{yuan(v)}</span>,
    },
    {
      title: t('orders.status'),
      dataIndex: 'status',
      width: 110,
      render: (s: OrderStatus, o) => <OrderStatusTag status={s} testid={`${testid}-${o.order_no}`} />,
    },
  ];
}
