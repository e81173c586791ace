import { ReloadOutlined } from '@ant-design/icons';
import { Button, Card, DatePicker, Input, InputNumber, Select, Space, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import dayjs, { type Dayjs } from 'dayjs';
import { useState, type HTMLAttributes } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';

import type { AdminOrderOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { formatTime } from '../../format';
import { adminOrderPath } from '../../paths';
import { useProducts } from '../../queries/catalog';
import { useCan } from '../../queries/me';
import { ORDER_STATUSES, useAdminOrders, type AdminOrderFilters, type OrderStatus } from '../../queries/orders';
import { amountAndStatusColumns, payMethodText } from './ordersShared';

function positiveInt(value: string | null): number | undefined {
  return value && /^\d+$/.test(value) && Number(value) > 0 ? Number(value) : undefined;
}

function isStatus(value: string | null): value is OrderStatus {
  return ORDER_STATUSES.includes(value as OrderStatus);
}

/** The filters live in the URL, so going back from an order finds the list as it was. */
export function filtersFromParams(params: URLSearchParams): AdminOrderFilters {
  const status = params.get('status');
  const from = params.get('from');
  const to = params.get('to');
  return {
    status: isStatus(status) ? status : undefined,
    product_id: positiveInt(params.get('product')),
    buyer_id: positiveInt(params.get('buyer')),
    order_no: params.get('no')?.trim() || undefined,
    created_from: from && dayjs(from).isValid() ? dayjs(from).toISOString() : undefined,
    created_to: to && dayjs(to).isValid() ? dayjs(to).toISOString() : undefined,
  };
}

/** 商品: a list to pick from for those who may read the catalogue, else the product's id. */
function ProductFilter({ value, onChange }: { value: number | undefined; onChange: (id: number | undefined) => void }) {
  const can = useCan();
  return can('catalog:read') ? <ProductSelect value={value} onChange={onChange} /> : <ProductIdInput value={value} onChange={onChange} />;
}

function ProductSelect({ value, onChange }: { value: number | undefined; onChange: (id: number | undefined) => void }) {
  const { t } = useTranslation();
  const products = useProducts({});
  const options = (products.data?.pages.flatMap((p) => p.items) ?? []).map((p) => ({ value: p.id, label: p.name }));
  return (
    <Select<number>
      allowClear
      showSearch
      optionFilterProp="label"
      placeholder={t('orders.admin.allProducts')}
      value={value}
      onChange={(v?: number) => onChange(v ?? undefined)}
      options={options}
      loading={products.isPending}
      style={{ width: 220 }}
      data-testid="orders-filter-product"
    />
  );
}

function ProductIdInput({ value, onChange }: { value: number | undefined; onChange: (id: number | undefined) => void }) {
  const { t } = useTranslation();
  return (
    <InputNumber<number>
      min={1}
      precision={0}
      placeholder={t('orders.admin.productId')}
      value={value ?? null}
      onChange={(v) => onChange(v ?? undefined)}
      style={{ width: 140 }}
      data-testid="orders-filter-product-id"
    />
  );
}

/** 交易 › 订单: every order, newest first, with filters; a click opens the order. */
export function AdminOrdersPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const filters = filtersFromParams(params);
  const orders = useAdminOrders(filters);
  const rows = orders.data?.pages.flatMap((p) => p.items) ?? [];
  // what is being typed: applied on Enter / 查询
  const [buyerDraft, setBuyerDraft] = useState<number | null>(filters.buyer_id ?? null);
  const [noDraft, setNoDraft] = useState(filters.order_no ?? '');

  const update = (changes: Record<string, string | number | undefined>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined || value === '') next.delete(key);
      else next.set(key, String(value));
    }
    setParams(next, { replace: true });
  };
  const applyDrafts = () => update({ buyer: buyerDraft ?? undefined, no: noDraft.trim() });
  const reset = () => {
    setBuyerDraft(null);
    setNoDraft('');
    setParams(new URLSearchParams(), { replace: true });
  };
  const range: [Dayjs | null, Dayjs | null] = [
    filters.created_from ? dayjs(filters.created_from) : null,
    filters.created_to ? dayjs(filters.created_to) : null,
  ];

  const columns: ColumnsType<AdminOrderOut> = [
    {
      title: t('orders.orderNo'),
      dataIndex: 'order_no',
      width: 200,
      render: (no: string) => (
        <Link to={adminOrderPath(no)} className="kameng-mono-small" onClick={(e) => e.stopPropagation()} data-testid={`order-link-${no}`}>
          {no}
        </Link>
      ),
    },
    {
      title: t('orders.product'),
      dataIndex: 'product_name',
      render: (name: string, o) => (
        <div className="kameng-user-cell">
          <Typography.Text ellipsis={{ tooltip: name }}>{name}</Typography.Text>
          <Typography.Text type="secondary" className="kameng-note">
            {o.sku_name} · {t(`catalog.delivery.${o.delivery_type as 'card_key'}`, { defaultValue: o.delivery_type })}
          </Typography.Text>
        </div>
      ),
    },
    {
      title: t('orders.admin.buyer'),
      dataIndex: 'buyer_login',
      width: 200,
      render: (login: string | null, o) => (
        <Typography.Text ellipsis={{ tooltip: login }} data-testid={`order-buyer-${o.order_no}`}>
          {login ?? t('orders.admin.buyerNo', { id: o.buyer_id })}
        </Typography.Text>
      ),
    },
    { title: t('orders.quantity'), dataIndex: 'quantity', width: 70, align: 'right' },
    ...amountAndStatusColumns<AdminOrderOut>(t, 'order-status'),
    { title: t('orders.payMethod'), dataIndex: 'pay_method', width: 100, render: (m: string | null) => payMethodText(t, m) },
    { title: t('orders.createdAt'), dataIndex: 'created_at', width: 180, render: formatTime },
  ];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('orders.admin.title')}
        subtitle={t('orders.admin.subtitle')}
        extra={
          <Button icon={<ReloadOutlined />} onClick={() => void orders.refetch()} loading={orders.isRefetching && !orders.isFetchingNextPage}>
            {t('orders.admin.refresh')}
          </Button>
        }
      />
      <Card className="kameng-card">
        <Space direction="vertical" size={16} style={{ width: '100%' }}>
          <Space wrap data-testid="orders-filters">
            <Select<OrderStatus>
              allowClear
              placeholder={t('orders.allStatuses')}
              value={filters.status}
              onChange={(v?: OrderStatus) => update({ status: v })}
              options={ORDER_STATUSES.map((s) => ({ value: s, label: t(`orders.statuses.${s}`) }))}
              style={{ width: 140 }}
              data-testid="orders-filter-status"
            />
            <ProductFilter value={filters.product_id} onChange={(id) => update({ product: id })} />
            <InputNumber<number>
              min={1}
              precision={0}
              placeholder={t('orders.admin.buyerId')}
              value={buyerDraft}
              onChange={(v) => setBuyerDraft(v ?? null)}
              onPressEnter={applyDrafts}
              style={{ width: 130 }}
              data-testid="orders-filter-buyer"
            />
            <Input
              allowClear
              placeholder={t('orders.admin.searchNo')}
              value={noDraft}
              onChange={(e) => setNoDraft(e.target.value)}
              onPressEnter={applyDrafts}
              maxLength={32}
              style={{ width: 200 }}
              data-testid="orders-filter-no"
            />
            <DatePicker.RangePicker
              showTime={{ format: 'HH:mm' }}
              format="YYYY-MM-DD HH:mm"
              allowEmpty={[true, true]}
              placeholder={[t('orders.admin.from'), t('orders.admin.to')]}
              value={range}
              onChange={(v) => update({ from: v?.[0]?.toISOString(), to: v?.[1]?.toISOString() })}
              data-testid="orders-filter-time"
            />
            <Button type="primary" onClick={applyDrafts} data-testid="orders-search">
              {t('orders.admin.search')}
            </Button>
            <Button onClick={reset} data-testid="orders-reset">
              {t('orders.admin.reset')}
            </Button>
          </Space>
          <Table<AdminOrderOut>
            rowKey="order_no"
            size="middle"
            loading={orders.isPending || (orders.isFetching && !orders.isFetchingNextPage && !orders.isRefetching)}
            dataSource={rows}
            columns={columns}
            pagination={false}
            scroll={{ x: 1000 }}
            rowClassName={() => 'kameng-clickable'}
            onRow={(o) =>
              ({
                onClick: () => void navigate(adminOrderPath(o.order_no)),
                'data-testid': `order-row-${o.order_no}`,
              }) as HTMLAttributes<HTMLElement>
            }
            locale={{ emptyText: t('orders.noOrders') }}
            data-testid="orders-table"
          />
          {orders.hasNextPage && (
            <div className="kameng-load-more">
              <Button onClick={() => void orders.fetchNextPage()} loading={orders.isFetchingNextPage} data-testid="orders-load-more">
                {t('orders.loadMore')}
              </Button>
            </div>
          )}
        </Space>
      </Card>
    </Space>
  );
}
