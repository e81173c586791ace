import { ArrowDownOutlined, ArrowUpOutlined, EditOutlined, PlusOutlined } from '@ant-design/icons';
import { App, Badge, Button, Card, Input, Select, Space, Table, Tag, TreeSelect, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState, type HTMLAttributes } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';

import type { ProductOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { formatTime } from '../../format';
import { useBulkStatus, useCategories, useProducts, type ProductStatus } from '../../queries/catalog';
import { useCan } from '../../queries/me';
import { categoryNames, categoryTreeData, PRODUCT_STATUSES, priceRange } from './catalogShared';

export const PRODUCTS_PATH = '/catalog/products';

/** 商品与库存 › 商品: the product list with filters and bulk listing. */
export function ProductsPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const can = useCan();
  const writable = can('catalog:write');
  const [categoryId, setCategoryId] = useState<number>();
  const [status, setStatus] = useState<ProductStatus>();
  const [q, setQ] = useState('');
  const [tag, setTag] = useState('');
  const [selected, setSelected] = useState<number[]>([]);
  const categories = useCategories();
  const names = categoryNames(categories.data);
  const products = useProducts({ category_id: categoryId, status, q, tag });
  const bulk = useBulkStatus();
  const rows = products.data?.pages.flatMap((p) => p.items) ?? [];

  const setAll = (to: 'listed' | 'unlisted') =>
    bulk.mutate(
      { product_ids: selected, status: to },
      {
        onSuccess: (out) => {
          void message.success(t(to === 'listed' ? 'catalog.bulkListed' : 'catalog.bulkUnlisted', { count: out.updated }));
          setSelected([]);
        },
      },
    );

  const columns: ColumnsType<ProductOut> = [
    {
      title: t('catalog.productName'),
      dataIndex: 'name',
      render: (name: string, p) => (
        <div className="kameng-user-cell">
          <Link to={`${PRODUCTS_PATH}/${p.id}`} data-testid={`product-link-${p.id}`}>
            {name}
          </Link>
          {p.tags.length > 0 && (
            <Space size={2} wrap>
              {p.tags.map((tg) => (
                <Tag key={tg} bordered={false}>
                  {tg}
                </Tag>
              ))}
            </Space>
          )}
        </div>
      ),
    },
    { title: t('catalog.category'), dataIndex: 'category_id', width: 200, render: (id: number) => names.get(id) ?? `#${id}` },
    { title: t('catalog.deliveryType'), dataIndex: 'delivery_type', width: 110, render: (d: ProductOut['delivery_type']) => t(`catalog.delivery.${d}`) },
    {
      title: t('catalog.status'),
      dataIndex: 'status',
      width: 170,
      render: (s: ProductStatus, p) => (
        <Space size={4} wrap>
          <Tag color={s === 'listed' ? 'blue' : s === 'scheduled' ? 'purple' : 'default'}>{t(`catalog.statuses.${s}`)}</Tag>
          <Badge status={p.on_sale ? 'success' : 'default'} text={p.on_sale ? t('catalog.onSale') : t('catalog.offSale')} />
        </Space>
      ),
    },
    { title: t('catalog.priceRange'), key: 'price', width: 170, render: (_, p) => priceRange(p.skus) },
    { title: t('catalog.updatedAt'), dataIndex: 'updated_at', width: 170, render: formatTime },
    {
      title: t('catalog.actions'),
      key: 'actions',
      width: 100,
      fixed: 'right',
      render: (_, p) => (
        <Link to={`${PRODUCTS_PATH}/${p.id}`}>
          <EditOutlined /> {writable ? t('catalog.edit') : t('catalog.view')}
        </Link>
      ),
    },
  ];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('catalog.productsTitle')}
        subtitle={t('catalog.productsSubtitle')}
        extra={
          writable &&
          can('catalog:pricing') && (
            <Link to={`${PRODUCTS_PATH}/new`}>
              <Button type="primary" icon={<PlusOutlined />} data-testid="create-product">
                {t('catalog.createProduct')}
              </Button>
            </Link>
          )
        }
      />
      <Space wrap>
        <TreeSelect<number>
          allowClear
          treeDefaultExpandAll
          placeholder={t('catalog.allCategories')}
          value={categoryId}
          onChange={(v?: number) => setCategoryId(v ?? undefined)}
          treeData={categoryTreeData(categories.data)}
          style={{ width: 220 }}
          data-testid="filter-category"
        />
        <Select<ProductStatus>
          allowClear
          placeholder={t('catalog.allStatuses')}
          value={status}
          onChange={(v?: ProductStatus) => setStatus(v)}
          options={PRODUCT_STATUSES.map((s) => ({ value: s, label: t(`catalog.statuses.${s}`) }))}
          style={{ width: 130 }}
          data-testid="filter-status"
        />
        <Input.Search allowClear placeholder={t('catalog.searchName')} onSearch={(v) => setQ(v.trim())} style={{ width: 240 }} data-testid="filter-q" />
        <Input.Search allowClear placeholder={t('catalog.searchTag')} onSearch={(v) => setTag(v.trim())} style={{ width: 180 }} data-testid="filter-tag" />
      </Space>
      {writable && (
        <Space>
          <Typography.Text type="secondary">{t('catalog.selectedCount', { count: selected.length })}</Typography.Text>
          <Button icon={<ArrowUpOutlined />} disabled={selected.length === 0} loading={bulk.isPending} onClick={() => setAll('listed')} data-testid="bulk-list">
            {t('catalog.bulkList')}
          </Button>
          <Button icon={<ArrowDownOutlined />} disabled={selected.length === 0} loading={bulk.isPending} onClick={() => setAll('unlisted')} data-testid="bulk-unlist">
            {t('catalog.bulkUnlist')}
          </Button>
        </Space>
      )}
      <Card className="kameng-card">
        <Table<ProductOut>
          rowKey="id"
          loading={products.isPending || (products.isFetching && !products.isFetchingNextPage)}
          dataSource={rows}
          columns={columns}
          pagination={false}
          scroll={{ x: 1100 }}
          rowSelection={writable ? { selectedRowKeys: selected, onChange: (keys) => setSelected(keys.map(Number)) } : undefined}
          onRow={(p) => ({ 'data-testid': `product-row-${p.id}` }) as HTMLAttributes<HTMLElement>}
          locale={{ emptyText: t('catalog.noProducts') }}
          data-testid="product-table"
        />
        {products.hasNextPage && (
          <div className="kameng-load-more">
            <Button onClick={() => void products.fetchNextPage()} loading={products.isFetchingNextPage} data-testid="products-load-more">
              {t('catalog.loadMore')}
            </Button>
          </div>
        )}
      </Card>
    </Space>
  );
}

