import { ArrowLeftOutlined, CheckCircleOutlined, GiftOutlined, MailOutlined, RollbackOutlined, SendOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Descriptions, Popconfirm, Row, Skeleton, Space, Tag, Timeline, Tooltip, Typography } from 'antd';
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';

import type { AdminOrderOut, OrderEventOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { formatTime, yuan } from '../../format';
import { ADMIN_ORDERS_PATH } from '../../paths';
import { useCan } from '../../queries/me';
import { ORDER_STATUSES, useAdminOrder, useResendNotice, type OrderStatus } from '../../queries/orders';
import { ConfirmPaidModal, DeliverModal, RedeliverModal, RefundModal, refundable } from './OrderActions';
import { UpstreamOrdersCard } from './UpstreamOrders';
import { BuyerInput, OrderLoadFailed, cents, OrderStatusTag, orderErrorText, payMethodText, priceRuleText } from './ordersShared';

const REFUNDABLE: readonly OrderStatus[] = ['paid', 'delivering', 'delivered', 'partially_delivered', 'failed'];
const REDELIVERABLE: readonly OrderStatus[] = ['delivered', 'partially_delivered'];
const AWAITING_PAYMENT: readonly OrderStatus[] = ['pending_payment', 'expired'];
const RESENDABLE: readonly OrderStatus[] = ['delivered', 'partially_delivered', 'failed', 'refunded'];

type Action = 'refund' | 'redeliver' | 'confirmPaid' | 'deliver';

function asStatus(value: string | null): OrderStatus | null {
  return ORDER_STATUSES.includes(value as OrderStatus) ? (value as OrderStatus) : null;
}

/** One step of the order's timeline: from → to, who, why, when. */
function EventLine({ event }: { event: OrderEventOut }) {
  const { t } = useTranslation();
  const from = asStatus(event.from_status);
  const to = asStatus(event.to_status);
  return (
    <div className="kameng-event">
      <Space size={4} wrap>
        {from && from !== to && (
          <>
            <OrderStatusTag status={from} />
            <span aria-hidden>→</span>
          </>
        )}
        {to ? <OrderStatusTag status={to} /> : <Tag>{event.to_status}</Tag>}
        {event.reason && <Typography.Text>{event.reason}</Typography.Text>}
      </Space>
      <div>
        <Typography.Text type="secondary" className="kameng-note">
          {formatTime(event.created_at)} · {t('orders.admin.actor')}：
          {event.actor_id === null ? t('orders.admin.system') : t('orders.admin.actorNo', { id: event.actor_id })}
        </Typography.Text>
      </div>
    </div>
  );
}

/** A staff action's button: shown with the permission, enabled when the order's state allows. */
function ActionButton({
  allowed,
  why,
  icon,
  label,
  danger,
  onClick,
  testid,
}: {
  allowed: boolean;
  why: string;
  icon: ReactNode;
  label: string;
  danger?: boolean;
  onClick: () => void;
  testid: string;
}) {
  const button = (
    <Button icon={icon} danger={danger} disabled={!allowed} onClick={onClick} data-testid={testid}>
      {label}
    </Button>
  );
  return allowed ? button : <Tooltip title={why}>{button}</Tooltip>;
}

/** 交易 › 订单 › one order: the facts, the timeline, and the staff actions the user holds
 * (退款 and 确认收款 ask for a fresh 2FA; all are in the operation log). */
export function AdminOrderPage() {
  const { t, i18n } = useTranslation();
  const can = useCan();
  const params = useParams();
  const orderNo = params.orderNo ?? '';
  const order = useAdminOrder(orderNo);
  const o = order.data;
  const [action, setAction] = useState<Action | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [resendError, setResendError] = useState<string | null>(null);
  const resend = useResendNotice();

  const back = (
    <Link to={ADMIN_ORDERS_PATH}>
      <Button icon={<ArrowLeftOutlined />} data-testid="back-to-order-list">
        {t('orders.admin.backToList')}
      </Button>
    </Link>
  );

  if (order.isError && !o) return <OrderLoadFailed error={order.error} orderNo={orderNo} back={back} />;

  const finished = (key: 'refundDone' | 'redeliverDone' | 'confirmPaidDone' | 'deliverDone' | 'resendDone') => (out: AdminOrderOut) => {
    setResendError(null);
    setDone(t(`orders.admin.${key}`, { status: t(`orders.statuses.${out.status}`) }));
  };
  const resendNotice = () => {
    if (resend.isPending) return;
    setDone(null);
    setResendError(null);
    resend.mutate(orderNo, { onSuccess: finished('resendDone'), onError: (e) => setResendError(orderErrorText(e, t, i18n.language === 'en')) });
  };
  const left = o ? (cents(refundable(o)) ?? 0n) : 0n;
  const actions = o && (
    <>
      {can('orders:confirm_paid') && (
        <ActionButton
          allowed={AWAITING_PAYMENT.includes(o.status)}
          why={t('orders.admin.notAwaitingPayment')}
          icon={<CheckCircleOutlined />}
          label={t('orders.admin.confirmPaid')}
          onClick={() => setAction('confirmPaid')}
          testid="action-confirm-paid"
        />
      )}
      {can('orders:deliver') && o.delivery_type === 'manual' && (
        <ActionButton
          allowed={o.status === 'delivering'}
          why={t('orders.admin.notAwaitingDelivery')}
          icon={<SendOutlined />}
          label={t('orders.admin.deliver')}
          onClick={() => setAction('deliver')}
          testid="action-deliver"
        />
      )}
      {can('orders:resend') &&
        (RESENDABLE.includes(o.status) ? (
          <Popconfirm title={t('orders.admin.resendConfirm')} onConfirm={resendNotice} okButtonProps={{ 'data-testid': 'resend-confirm' }}>
            <Button icon={<MailOutlined />} loading={resend.isPending} data-testid="action-resend">
              {t('orders.admin.resend')}
            </Button>
          </Popconfirm>
        ) : (
          <Tooltip title={t('orders.admin.nothingToResend')}>
            <Button icon={<MailOutlined />} disabled data-testid="action-resend">
              {t('orders.admin.resend')}
            </Button>
          </Tooltip>
        ))}
      {can('orders:redeliver') && (
        <ActionButton
          allowed={o.delivery_type === 'card_key' && REDELIVERABLE.includes(o.status)}
          why={t('orders.admin.notRedeliverable')}
          icon={<GiftOutlined />}
          label={t('orders.admin.redeliver')}
          onClick={() => setAction('redeliver')}
          testid="action-redeliver"
        />
      )}
      {can('orders:refund') && (
        <ActionButton
          allowed={REFUNDABLE.includes(o.status) && left > 0n}
          why={left > 0n ? t('orders.admin.notRefundable') : t('orders.admin.fullyRefunded')}
          icon={<RollbackOutlined />}
          label={t('orders.admin.refund')}
          danger
          onClick={() => setAction('refund')}
          testid="action-refund"
        />
      )}
    </>
  );

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={
          <Space size={12} wrap>
            <span>{t('orders.admin.detailTitle', { no: orderNo })}</span>
            {o && <OrderStatusTag status={o.status} testid="admin-order-status" />}
          </Space>
        }
        subtitle={t('orders.admin.detailSubtitle')}
        extra={
          <>
            {back}
            {actions}
          </>
        }
      />
      {done && <Alert type="success" showIcon closable onClose={() => setDone(null)} message={done} data-testid="action-done" />}
      {resendError && <Alert type="error" showIcon closable onClose={() => setResendError(null)} message={resendError} data-testid="resend-error" />}
      {!o ? (
        <Card className="kameng-card">
          <Skeleton active paragraph={{ rows: 8 }} />
        </Card>
      ) : (
        <Row gutter={[16, 16]}>
          <Col xs={24} xl={15}>
            <Card className="kameng-card" title={t('orders.orderInfo')}>
              <Descriptions
                size="small"
                column={{ xs: 1, sm: 1, md: 2, lg: 2, xl: 2, xxl: 2 }}
                data-testid="admin-order-info"
                items={[
                  { key: 'no', label: t('orders.orderNo'), children: <Typography.Text copyable>{o.order_no}</Typography.Text> },
                  {
                    key: 'buyer',
                    label: t('orders.admin.buyer'),
                    children: can('wallet:read') ? (
                      <Link to={`/finance/accounts/${o.buyer_id}`} data-testid="order-buyer">
                        {o.buyer_login ?? t('orders.admin.buyerNo', { id: o.buyer_id })}
                      </Link>
                    ) : (
                      <span data-testid="order-buyer">{o.buyer_login ?? t('orders.admin.buyerNo', { id: o.buyer_id })}</span>
                    ),
                  },
                  {
                    key: 'product',
                    label: t('orders.product'),
                    children: can('catalog:read') ? <Link to={`/catalog/products/${o.product_id}`}>{o.product_name}</Link> : o.product_name,
                  },
                  { key: 'sku', label: t('orders.sku'), children: `${o.sku_name} (#${o.sku_id})` },
                  { key: 'delivery', label: t('catalog.deliveryType'), children: t(`catalog.delivery.${o.delivery_type as 'card_key'}`, { defaultValue: o.delivery_type }) },
                  { key: 'qty', label: t('orders.quantity'), children: o.quantity },
                  { key: 'unit', label: t('orders.unitPrice'), children: <span className="kameng-amount">{yuan(o.unit_price)}</span> },
                  {
                    key: 'total',
                    label: t('orders.total'),
                    children: (
                      <span className="kameng-amount kameng-price" data-testid="admin-order-total">
                        {yuan(o.total)}
                      </span>
                    ),
                  },
                  { key: 'rule', label: t('orders.admin.priceRule'), children: priceRuleText(t, o.price_rule) },
                  { key: 'pay', label: t('orders.payMethod'), children: payMethodText(t, o.pay_method) },
                  {
                    key: 'refunded',
                    label: t('orders.refundedTotal'),
                    children: (
                      <span className="kameng-amount" data-testid="admin-order-refunded">
                        {yuan(o.refunded_total)}
                      </span>
                    ),
                  },
                  {
                    key: 'delivered',
                    label: t('orders.deliveredQty'),
                    children: (
                      <Space size={4}>
                        <span data-testid="admin-order-delivered">{t('orders.deliveredOf', { delivered: o.delivered_qty, quantity: o.quantity })}</span>
                        {o.awaiting_stock && <Tag color="orange">{t('orders.admin.awaitingStock')}</Tag>}
                      </Space>
                    ),
                  },
                  { key: 'created', label: t('orders.createdAt'), children: formatTime(o.created_at) },
                  { key: 'paid', label: t('orders.paidAt'), children: formatTime(o.paid_at) },
                  { key: 'deliveredAt', label: t('orders.deliveredAt'), children: formatTime(o.delivered_at) },
                  { key: 'notifiedAt', label: t('orders.admin.notifiedAt'), children: formatTime(o.notified_at) },
                  ...(o.delivery_type === 'direct_recharge'
                    ? [
                        { key: 'supplierRef', label: t('orders.admin.supplierRef'), children: o.supplier_ref ?? '—' },
                        { key: 'attempt', label: t('orders.admin.deliveryAttempt'), children: o.delivery_attempt },
                      ]
                    : []),
                  ...(o.status === 'pending_payment' ? [{ key: 'expires', label: t('orders.expiresAt'), children: formatTime(o.expires_at) }] : []),
                ]}
              />
              {Object.keys(o.buyer_input).length > 0 && (
                <>
                  <Typography.Title level={5} style={{ marginTop: 16 }}>
                    {t('orders.buyerInput')}
                  </Typography.Title>
                  <BuyerInput order={o} />
                </>
              )}
              {o.delivery_type === 'card_key' && o.delivered_qty > 0 && (
                <Alert
                  type="info"
                  showIcon
                  style={{ marginTop: 16 }}
                  message={t('orders.admin.keysMasked')}
                  action={
                    can('inventory:read') ? (
                      <Link to={`/catalog/inventory/${o.product_id}`}>
                        <Button size="small">{t('orders.admin.viewStock')}</Button>
                      </Link>
                    ) : undefined
                  }
                />
              )}
            </Card>
          </Col>
          <Col xs={24} xl={9}>
            <Card className="kameng-card" title={t('orders.admin.timeline')}>
              <Timeline
                data-testid="order-timeline"
                items={o.timeline?.map((e, i) => ({
                  key: `${e.created_at}-${i}`,
                  color: e.to_status === 'failed' ? 'red' : e.to_status === 'refunded' || e.reason.startsWith('退款') ? 'purple' : 'blue',
                  children: <EventLine event={e} />,
                }))}
              />
            </Card>
          </Col>
        </Row>
      )}
      {o && can('suppliers:read') && <UpstreamOrdersCard orderNo={o.order_no} />}
      {o && (
        <>
          <RefundModal open={action === 'refund'} order={o} onClose={() => setAction(null)} onDone={finished('refundDone')} />
          <RedeliverModal open={action === 'redeliver'} order={o} onClose={() => setAction(null)} onDone={finished('redeliverDone')} />
          <ConfirmPaidModal open={action === 'confirmPaid'} order={o} onClose={() => setAction(null)} onDone={finished('confirmPaidDone')} />
          <DeliverModal open={action === 'deliver'} order={o} onClose={() => setAction(null)} onDone={finished('deliverDone')} />
        </>
      )}
    </Space>
  );
}
