import { ArrowLeftOutlined, CheckCircleOutlined, ClockCircleOutlined, CreditCardOutlined, LoadingOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Descriptions, Row, Skeleton, Space, Timeline, Typography } from 'antd';
import type { TFunction } from 'i18next';
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';

import { browser } from '../../browser';
import type { OrderOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { formatTime, yuan } from '../../format';
import { MY_ORDERS_PATH } from '../../paths';
import { useMyOrder } from '../../queries/orders';
import { useShopProduct } from '../../queries/shop';
import { BuyerInput, OrderLoadFailed, cents, KeysTable, OrderStatusTag, payMethodText } from './ordersShared';

/** What the order's state means for the buyer, and what happens next. */
function StatusBanner({ order }: { order: OrderOut }) {
  const { t } = useTranslation();
  const refunded = (cents(order.refunded_total) ?? 0n) > 0n;
  let banner: { type: 'info' | 'success' | 'warning' | 'error'; text: string; icon?: ReactNode } | null = null;
  if (order.status === 'pending_payment') {
    banner = { type: 'warning', text: order.expires_at ? t('orders.pendingHint', { time: formatTime(order.expires_at) }) : t('orders.pendingNoUrl') };
  } else if (order.status === 'paid' && order.awaiting_stock) {
    banner = { type: 'warning', text: t('orders.awaitingStock') };
  } else if (order.status === 'delivering' && order.delivery_type === 'manual') {
    banner = { type: 'info', text: t('orders.manualHint') };
  } else if (order.status === 'paid' || order.status === 'delivering') {
    banner = { type: 'info', text: t('orders.deliveringHint'), icon: <LoadingOutlined /> };
  } else if (order.status === 'failed') {
    banner = { type: 'error', text: t('orders.failedHint') };
  } else if (order.status === 'refunded') {
    banner = { type: 'info', text: t('orders.refundedHint', { amount: yuan(order.refunded_total) }) };
  } else if (order.status === 'expired') {
    banner = { type: 'info', text: t('orders.expiredHint') };
  } else if (refunded) {
    banner = { type: 'info', text: t('orders.partlyRefundedHint', { amount: yuan(order.refunded_total) }) };
  }
  if (!banner) return null;
  return <Alert type={banner.type} showIcon icon={banner.icon} message={banner.text} data-testid="order-banner" />;
}

/** The order's progress from its own timestamps: 下单 → 支付 → 发货 (→ 退款 / 关闭). */
function progressItems(order: OrderOut, t: TFunction) {
  const done = (label: string, time: string | null, extra?: string) => ({
    color: 'green',
    dot: <CheckCircleOutlined />,
    children: (
      <>
        <Typography.Text strong>{label}</Typography.Text>
        {extra && <Typography.Text> · {extra}</Typography.Text>}
        <div>
          <Typography.Text type="secondary" className="kameng-note">
            {formatTime(time)}
          </Typography.Text>
        </div>
      </>
    ),
  });
  const waiting = (label: string, busy: boolean) => ({
    color: busy ? 'blue' : 'gray',
    dot: busy ? <LoadingOutlined /> : <ClockCircleOutlined />,
    children: <Typography.Text type="secondary">{label}</Typography.Text>,
  });
  const items = [done(t('orders.steps.created'), order.created_at)];
  if (order.status === 'expired') {
    items.push({ color: 'gray', dot: <ClockCircleOutlined />, children: <Typography.Text type="secondary">{t('orders.steps.expired')}</Typography.Text> });
    return items;
  }
  items.push(
    order.paid_at ? done(t('orders.steps.paid'), order.paid_at, payMethodText(t, order.pay_method)) : waiting(t('orders.steps.paid'), false),
  );
  if (order.delivered_at) {
    items.push(done(t('orders.steps.delivered'), order.delivered_at, t('orders.deliveredOf', { delivered: order.delivered_qty, quantity: order.quantity })));
  } else if (order.status !== 'refunded' && order.status !== 'failed') {
    items.push(waiting(t('orders.steps.delivered'), order.status === 'paid' || order.status === 'delivering'));
  }
  if ((cents(order.refunded_total) ?? 0n) > 0n) {
    items.push({
      color: 'purple',
      dot: <CheckCircleOutlined />,
      children: (
        <Typography.Text strong>
          {t('orders.steps.refunded')} · {yuan(order.refunded_total)}
        </Typography.Text>
      ),
    });
  }
  return items;
}

/** /account/orders/:orderNo — one of my orders: state, keys (copy), amounts and progress; a
 * pending online payment can be paid again. Asked again every 2 s while being delivered.
 * The payment gateway sends the buyer back here after paying. */
export function MyOrderPage() {
  const { t } = useTranslation();
  const params = useParams();
  const orderNo = params.orderNo ?? '';
  const order = useMyOrder(orderNo);
  const o = order.data;
  const product = useShopProduct(o?.product_id ?? null, { silentError: true });
  const labels = new Map((product.data?.buyer_fields ?? []).map((f) => [f.key, f.label]));
  const [leaving, setLeaving] = useState(false);

  const back = (
    <Link to={MY_ORDERS_PATH}>
      <Button icon={<ArrowLeftOutlined />} data-testid="back-to-orders">
        {t('orders.backToOrders')}
      </Button>
    </Link>
  );

  if (order.isError && !o) return <OrderLoadFailed error={order.error} orderNo={orderNo} back={back} />;

  const payUrl = o?.status === 'pending_payment' ? o.pay_url : null;
  const showKeys = o && (o.delivery_type === 'card_key' || (o.keys ?? []).length > 0);

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={
          <Space size={12} wrap>
            <span>{t('orders.orderTitle', { no: orderNo })}</span>
            {o && <OrderStatusTag status={o.status} testid="order-status" />}
          </Space>
        }
        subtitle={t('orders.orderSubtitle')}
        extra={
          <>
            {back}
            {payUrl && (
              <Button
                type="primary"
                icon={<CreditCardOutlined />}
                loading={leaving}
                onClick={() => {
                  setLeaving(true);
                  browser.leaveTo(payUrl);
                }}
                data-testid="pay-now"
              >
                {t('orders.payNow')}
              </Button>
            )}
          </>
        }
      />
      {!o ? (
        <Card className="kameng-card">
          <Skeleton active paragraph={{ rows: 6 }} />
        </Card>
      ) : (
        <>
          <StatusBanner order={o} />
          <Row gutter={[16, 16]}>
            <Col xs={24} xl={16}>
              <Space direction="vertical" size={16} style={{ width: '100%' }}>
                {o.delivery_content && (
                  <Card className="kameng-card" title={t('orders.deliveryContent')} data-testid="delivery-content-card">
                    <Typography.Paragraph copyable={{ text: o.delivery_content }} className="kameng-delivery-content" data-testid="delivery-content">
                      {o.delivery_content}
                    </Typography.Paragraph>
                  </Card>
                )}
                {showKeys && (
                  <Card className="kameng-card" title={t('orders.keys')} data-testid="keys-card">
                    <KeysTable keys={o.keys ?? []} />
                  </Card>
                )}
                <Card className="kameng-card" title={t('orders.orderInfo')}>
                  <Descriptions
                    size="small"
                    column={{ xs: 1, sm: 2, md: 2, lg: 2, xl: 2, xxl: 2 }}
                    data-testid="order-info"
                    items={[
                      { key: 'no', label: t('orders.orderNo'), children: <Typography.Text copyable>{o.order_no}</Typography.Text> },
                      { key: 'product', label: t('orders.product'), children: o.product_name },
                      { key: 'sku', label: t('orders.sku'), children: o.sku_name },
                      { key: 'qty', label: t('orders.quantity'), children: o.quantity },
                      { key: 'unit', label: t('orders.unitPrice'), children: <span className="kameng-amount">{yuan(o.unit_price)}</span> },
                      {
                        key: 'total',
                        label: t('orders.total'),
                        children: (
                          <span className="kameng-amount kameng-price" data-testid="order-total">
                            {yuan(o.total)}
                          </span>
                        ),
                      },
                      { key: 'pay', label: t('orders.payMethod'), children: payMethodText(t, o.pay_method) },
                      ...((cents(o.refunded_total) ?? 0n) > 0n
                        ? [{ key: 'refunded', label: t('orders.refundedTotal'), children: <span className="kameng-amount">{yuan(o.refunded_total)}</span> }]
                        : []),
                      { key: 'created', label: t('orders.createdAt'), children: formatTime(o.created_at) },
                      ...(o.status === 'pending_payment' ? [{ key: 'expires', label: t('orders.expiresAt'), children: formatTime(o.expires_at) }] : []),
                    ]}
                  />
                  {Object.keys(o.buyer_input).length > 0 && (
                    <>
                      <Typography.Title level={5} style={{ marginTop: 16 }}>
                        {t('orders.buyerInput')}
                      </Typography.Title>
                      <BuyerInput order={o} labels={labels} />
                    </>
                  )}
                </Card>
              </Space>
            </Col>
            <Col xs={24} xl={8}>
              <Card className="kameng-card" title={t('orders.progress')}>
                <Timeline items={progressItems(o, t)} data-testid="order-progress" />
              </Card>
            </Col>
          </Row>
        </>
      )}
    </Space>
  );
}
