import { ShopOutlined } from '@ant-design/icons';
import { Button, Card, Empty, Select, Space, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState, type HTMLAttributes } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';

import type { OrderOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { formatTime } from '../../format';
import { myOrderPath, SHOP_PATH } from '../../paths';
import { ORDER_STATUSES, useMyOrders, type OrderStatus } from '../../queries/orders';
import { amountAndStatusColumns } from './ordersShared';

/** 我的订单: the signed-in buyer's orders, newest first; a click opens one (keys, payment). */
export function MyOrdersPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [status, setStatus] = useState<OrderStatus>();
  const orders = useMyOrders(status);
  const rows = orders.data?.pages.flatMap((p) => p.items) ?? [];

  const columns: ColumnsType<OrderOut> = [
    {
      title: t('orders.orderNo'),
      dataIndex: 'order_no',
      width: 200,
      render: (no: string) => (
        <Link to={myOrderPath(no)} className="kameng-mono-small" onClick={(e) => e.stopPropagation()} data-testid={`my-order-link-${no}`}>
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
            {o.sku_name}
          </Typography.Text>
        </div>
      ),
    },
    { title: t('orders.quantity'), dataIndex: 'quantity', width: 80, align: 'right' },
    ...amountAndStatusColumns<OrderOut>(t, 'my-order-status'),
    { title: t('orders.createdAt'), dataIndex: 'created_at', width: 180, render: formatTime },
  ];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('orders.myTitle')}
        subtitle={t('orders.mySubtitle')}
        extra={
          <Link to={SHOP_PATH}>
            <Button type="primary" icon={<ShopOutlined />} data-testid="go-shopping">
              {t('orders.goShopping')}
            </Button>
          </Link>
        }
      />
      <Card className="kameng-card">
        <Space direction="vertical" size={16} style={{ width: '100%' }}>
          <Select<OrderStatus>
            allowClear
            placeholder={t('orders.allStatuses')}
            value={status}
            onChange={(v?: OrderStatus) => setStatus(v)}
            options={ORDER_STATUSES.map((s) => ({ value: s, label: t(`orders.statuses.${s}`) }))}
            style={{ width: 160 }}
            data-testid="my-orders-status"
          />
          <Table<OrderOut>
            rowKey="order_no"
            size="middle"
            loading={orders.isPending || (orders.isFetching && !orders.isFetchingNextPage)}
            dataSource={rows}
            columns={columns}
            pagination={false}
            scroll={{ x: 820 }}
            rowClassName={() => 'kameng-clickable'}
            onRow={(o) =>
              ({
                onClick: () => void navigate(myOrderPath(o.order_no)),
                'data-testid': `my-order-row-${o.order_no}`,
              }) as HTMLAttributes<HTMLElement>
            }
            locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('orders.noOrders')} /> }}
            data-testid="my-orders-table"
          />
          {orders.hasNextPage && (
            <div className="kameng-load-more">
              <Button onClick={() => void orders.fetchNextPage()} loading={orders.isFetchingNextPage} data-testid="my-orders-load-more">
                {t('orders.loadMore')}
              </Button>
            </div>
          )}
        </Space>
      </Card>
    </Space>
  );
}
