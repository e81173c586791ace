import { ImportOutlined } from '@ant-design/icons';
import { Button, Card, Space, Table, Tag } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import type { HTMLAttributes } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';

import type { ImportTarget, ImportTargetSku, SkuStockOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { useImportTargets, useProductStocks } from '../../queries/inventory';
import { useCan } from '../../queries/me';
import { IMPORT_PATH, INVENTORY_PATH } from './inventoryShared';

interface Row {
  key: string;
  product: ImportTarget;
  sku: ImportTargetSku | null;
  /** rows the product cell spans (0: covered by the row above) */
  span: number;
  stock: SkuStockOut | undefined;
}

function figure(value: number | undefined) {
  return <span className="kameng-figure">{value ?? '…'}</span>;
}

/** 商品与库存 › 库存: card-key products with the stock of every SKU. */
export function InventoryPage() {
  const { t } = useTranslation();
  const can = useCan();
  const importer = can('inventory:import');
  const targets = useImportTargets();
  const products = targets.data ?? [];
  const stocks = useProductStocks(products.map((p) => p.product_id));
  const bySku = new Map<number, SkuStockOut>();
  for (const stock of stocks) for (const s of stock.data?.skus ?? []) bySku.set(s.sku_id, s);

  const rows: Row[] = products.flatMap((product): Row[] =>
    product.skus.length === 0
      ? [{ key: `p${product.product_id}`, product, sku: null, span: 1, stock: undefined }]
      : product.skus.map((sku, i) => ({
          key: `s${sku.id}`,
          product,
          sku,
          span: i === 0 ? product.skus.length : 0,
          stock: bySku.get(sku.id),
        })),
  );

  const columns: ColumnsType<Row> = [
    {
      title: t('inventory.product'),
      key: 'product',
      onCell: (r) => ({ rowSpan: r.span }),
      render: (_, r) => (
        <Space size={6} wrap>
          <Link to={`${INVENTORY_PATH}/${r.product.product_id}`} data-testid={`inventory-product-${r.product.product_id}`}>
            {r.product.product_name}
          </Link>
          {r.product.looping_keys && <Tag color="purple">{t('inventory.looping')}</Tag>}
        </Space>
      ),
    },
    { title: t('inventory.sku'), key: 'sku', render: (_, r) => r.sku?.name ?? '—' },
    {
      title: t('inventory.available'),
      key: 'available',
      width: 100,
      align: 'right',
      render: (_, r) => (r.sku ? <strong data-testid={`available-${r.sku.id}`}>{figure(r.stock?.available ?? r.sku.available)}</strong> : '—'),
    },
    { title: t('inventory.reserved'), key: 'reserved', width: 100, align: 'right', render: (_, r) => (r.sku ? figure(r.stock?.reserved) : '—') },
    { title: t('inventory.sold'), key: 'sold', width: 100, align: 'right', render: (_, r) => (r.sku ? figure(r.stock?.sold) : '—') },
    { title: t('inventory.voided'), key: 'voided', width: 100, align: 'right', render: (_, r) => (r.sku ? figure(r.stock?.voided) : '—') },
    {
      title: t('inventory.stockState'),
      key: 'state',
      width: 120,
      render: (_, r) =>
        !r.stock ? null : r.stock.low_stock ? (
          <Tag color="error" data-testid={`low-stock-${r.stock.sku_id}`}>
            {t('inventory.lowStock')}
          </Tag>
        ) : (
          <Tag color="success">{t('inventory.stockOk')}</Tag>
        ),
    },
    {
      title: t('inventory.actions'),
      key: 'actions',
      width: 180,
      render: (_, r) => (
        <Space size={12}>
          <Link to={`${INVENTORY_PATH}/${r.product.product_id}${r.sku ? `?sku_id=${r.sku.id}` : ''}`}>{t('inventory.viewStock')}</Link>
          {importer && r.sku && (
            <Link to={`${IMPORT_PATH}?sku_id=${r.sku.id}`} data-testid={`import-sku-${r.sku.id}`}>
              {t('inventory.importKeys')}
            </Link>
          )}
        </Space>
      ),
    },
  ];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('inventory.title')}
        subtitle={t('inventory.subtitle')}
        extra={
          importer && (
            <Link to={IMPORT_PATH}>
              <Button type="primary" icon={<ImportOutlined />} data-testid="inventory-import">
                {t('inventory.importKeys')}
              </Button>
            </Link>
          )
        }
      />
      <Card className="kameng-card">
        <Table<Row>
          rowKey="key"
          bordered
          loading={targets.isPending}
          dataSource={rows}
          columns={columns}
          pagination={false}
          scroll={{ x: 1000 }}
          onRow={(r) => ({ 'data-testid': r.sku ? `stock-row-${r.sku.id}` : `stock-row-p${r.product.product_id}` }) as HTMLAttributes<HTMLElement>}
          locale={{ emptyText: t('inventory.noProducts') }}
          data-testid="inventory-table"
        />
      </Card>
    </Space>
  );
}
