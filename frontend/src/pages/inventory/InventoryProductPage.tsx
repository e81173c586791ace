import { DeleteOutlined, DownloadOutlined, EyeOutlined, ImportOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Col, Descriptions, Input, Modal, Row, Skeleton, Space, Statistic, Table, Tabs, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState, type HTMLAttributes, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router';

import { toApiError } from '../../api';
import type { ImportOut, KeyOut, RevealOut, SkuStockOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeAnyError, describeError } from '../../errorMessages';
import { formatTime, yuan } from '../../format';
import { exportKeys, useKeys, useProductStock, useRevealKey, useVoidImport, useVoidKeys, type KeyState } from '../../queries/inventory';
import { useCan } from '../../queries/me';
import { IMPORT_PATH, ImportsTable, INVENTORY_PATH } from './inventoryShared';

/** The key states with a tab of their own (reserved keys are in checkout, a moment only). */
const KEY_TABS = ['available', 'sold', 'voided'] as const;
type Tab = (typeof KEY_TABS)[number] | 'batches';

function isKeyTab(tab: string): tab is (typeof KEY_TABS)[number] {
  return (KEY_TABS as readonly string[]).includes(tab);
}

/** A confirmation that asks for an optional reason (void, export, reveal). */
function ReasonModal({
  open,
  title,
  hint,
  okText,
  danger,
  loading,
  error,
  extra,
  onOk,
  onCancel,
  testid,
}: {
  open: boolean;
  title: string;
  hint: string;
  okText: string;
  danger?: boolean;
  loading: boolean;
  error: string | null;
  extra?: ReactNode;
  onOk: (reason: string) => void;
  onCancel: () => void;
  testid: string;
}) {
  const { t } = useTranslation();
  const [reason, setReason] = useState('');
  return (
    <Modal
      open={open}
      title={title}
      onCancel={onCancel}
      okText={okText}
      okButtonProps={{ danger, loading, 'data-testid': `${testid}-confirm` }}
      onOk={() => onOk(reason.trim())}
      destroyOnHidden
      afterClose={() => setReason('')}
    >
      <Space direction="vertical" size={12} style={{ width: '100%' }}>
        <Alert type={danger ? 'warning' : 'info'} showIcon message={hint} />
        {extra}
        <div>
          <Typography.Text type="secondary">{t('inventory.reason')}</Typography.Text>
          <Input
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            maxLength={200}
            placeholder={t('inventory.reasonPlaceholder')}
            data-testid={`${testid}-reason`}
          />
        </div>
        {error && <Alert type="error" showIcon message={error} data-testid={`${testid}-error`} />}
      </Space>
    </Modal>
  );
}

/** 查看: asks for a reason, then shows the plaintext (the 2FA dialog comes in between when needed). */
function RevealModal({ keyRow, onClose }: { keyRow: KeyOut | null; onClose: () => void }) {
  const { t } = useTranslation();
  const reveal = useRevealKey();
  const [reason, setReason] = useState('');
  const [shown, setShown] = useState<RevealOut | null>(null);
  const [error, setError] = useState<string | null>(null);

  const close = () => {
    setReason('');
    setShown(null);
    setError(null);
    reveal.reset();
    onClose();
  };

  const ask = () => {
    if (!keyRow) return;
    setError(null);
    reveal.mutate(
      { id: keyRow.id, reason: reason.trim() },
      { onSuccess: (out) => setShown(out), onError: (e) => setError(describeError(toApiError(e), t)) },
    );
  };

  return (
    <Modal
      open={keyRow !== null}
      title={
        <span>
          <EyeOutlined style={{ marginRight: 8 }} />
          {t('inventory.revealTitle')}
        </span>
      }
      onCancel={close}
      footer={
        shown
          ? [
              <Button key="close" type="primary" onClick={close} data-testid="reveal-close">
                {t('inventory.close')}
              </Button>,
            ]
          : [
              <Button key="cancel" onClick={close}>
                {t('stepUp.cancel')}
              </Button>,
              <Button key="ok" type="primary" danger loading={reveal.isPending} onClick={ask} data-testid="reveal-confirm">
                {t('inventory.revealConfirm')}
              </Button>,
            ]
      }
      destroyOnHidden
    >
      {keyRow && !shown && (
        <Space direction="vertical" size={12} style={{ width: '100%' }}>
          <Alert type="warning" showIcon message={t('inventory.revealHint')} />
          <Descriptions size="small" column={1} bordered>
            <Descriptions.Item label={t('inventory.cardNo')}>{keyRow.card_no ?? '—'}</Descriptions.Item>
            <Descriptions.Item label={t('inventory.secret')}>
              <span className="kameng-mono-small">{keyRow.hint}</span>
            </Descriptions.Item>
          </Descriptions>
          <div>
            <Typography.Text type="secondary">{t('inventory.revealReason')}</Typography.Text>
            <Input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={200} data-testid="reveal-reason" />
          </div>
        </Space>
      )}
      {shown && (
        <Descriptions size="small" column={1} bordered data-testid="revealed">
          <Descriptions.Item label={t('inventory.cardNo')}>{shown.card_no ?? '—'}</Descriptions.Item>
          <Descriptions.Item label={t('inventory.secret')}>
            <Typography.Text copyable={{ text: shown.secret }} className="kameng-secret" data-testid="revealed-secret">
              {shown.secret}
            </Typography.Text>
          </Descriptions.Item>
        </Descriptions>
      )}
      {error && <Alert type="error" showIcon message={error} style={{ marginTop: 12 }} data-testid="reveal-error" />}
    </Modal>
  );
}

/** The masked keys of one SKU in one state, with void (available keys) and reveal. */
function KeyList({ stock, state, looping }: { stock: SkuStockOut; state: KeyState; looping: boolean }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const can = useCan();
  const voidable = state === 'available' && can('inventory:void');
  const keys = useKeys({ sku_id: stock.sku_id, state });
  const voidKeys = useVoidKeys();
  const [selected, setSelected] = useState<number[]>([]);
  const [voiding, setVoiding] = useState(false);
  const [voidError, setVoidError] = useState<string | null>(null);
  const [revealing, setRevealing] = useState<KeyOut | null>(null);
  const rows = keys.data?.pages.flatMap((p) => p.items) ?? [];

  const doVoid = (reason: string) => {
    setVoidError(null);
    voidKeys.mutate(
      { key_ids: selected, reason },
      {
        onSuccess: (out) => {
          void message.success(t('inventory.voidDone', { voided: out.voided, skipped: out.skipped }));
          setSelected([]);
          setVoiding(false);
        },
        onError: (e) => setVoidError(describeError(toApiError(e), t)),
      },
    );
  };

  const columns: ColumnsType<KeyOut> = [
    { title: t('inventory.keyId'), dataIndex: 'id', width: 90 },
    { title: t('inventory.cardNo'), dataIndex: 'card_no', render: (v: string | null) => v ?? '—' },
    {
      title: t('inventory.secret'),
      dataIndex: 'hint',
      render: (hint: string, k) => (
        <span className="kameng-mono-small" data-testid={`key-hint-${k.id}`}>
          {hint}
        </span>
      ),
    },
    { title: t('inventory.cost'), dataIndex: 'cost', width: 100, align: 'right', render: (v: string | null) => yuan(v) },
    { title: t('inventory.batch'), dataIndex: 'batch_id', width: 90, render: (id: number) => `#${id}` },
    { title: t('inventory.createdAt'), dataIndex: 'created_at', width: 170, render: formatTime },
    ...(state === 'sold'
      ? [
          { title: t('inventory.order'), dataIndex: 'order_id', width: 100, render: (id: number | null) => (id === null ? '—' : `#${id}`) },
          { title: t('inventory.soldAt'), dataIndex: 'sold_at', width: 170, render: formatTime },
        ]
      : []),
    ...(looping ? [{ title: t('inventory.soldCount'), dataIndex: 'sold_count', width: 100, align: 'right' as const }] : []),
    ...(state === 'voided' ? [{ title: t('inventory.voidedAt'), dataIndex: 'voided_at', width: 170, render: formatTime }] : []),
    ...(can('inventory:reveal')
      ? [
          {
            title: t('inventory.actions'),
            key: 'actions',
            width: 90,
            fixed: 'right' as const,
            render: (_: unknown, k: KeyOut) => (
              <Button type="link" size="small" icon={<EyeOutlined />} onClick={() => setRevealing(k)} data-testid={`reveal-${k.id}`}>
                {t('inventory.reveal')}
              </Button>
            ),
          },
        ]
      : []),
  ];

  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }}>
      {voidable && (
        <Space>
          <Typography.Text type="secondary">{t('inventory.selectedCount', { count: selected.length })}</Typography.Text>
          <Button danger icon={<DeleteOutlined />} disabled={selected.length === 0} onClick={() => setVoiding(true)} data-testid="void-keys">
            {t('inventory.voidSelected')}
          </Button>
        </Space>
      )}
      <Table<KeyOut>
        rowKey="id"
        size="middle"
        loading={keys.isPending || (keys.isFetching && !keys.isFetchingNextPage)}
        dataSource={rows}
        columns={columns}
        pagination={false}
        scroll={{ x: 960 }}
        rowSelection={voidable ? { selectedRowKeys: selected, onChange: (ids) => setSelected(ids.map(Number)) } : undefined}
        onRow={(k) => ({ 'data-testid': `key-row-${k.id}` }) as HTMLAttributes<HTMLElement>}
        locale={{ emptyText: t('inventory.noKeys') }}
        data-testid={`keys-${state}`}
      />
      {keys.hasNextPage && (
        <div className="kameng-load-more">
          <Button onClick={() => void keys.fetchNextPage()} loading={keys.isFetchingNextPage} data-testid="keys-load-more">
            {t('inventory.loadMore')}
          </Button>
        </div>
      )}
      <ReasonModal
        open={voiding}
        title={t('inventory.voidTitle', { count: selected.length })}
        hint={t('inventory.voidHint')}
        okText={t('inventory.voidConfirm')}
        danger
        loading={voidKeys.isPending}
        error={voidError}
        onOk={doVoid}
        onCancel={() => {
          setVoiding(false);
          setVoidError(null);
        }}
        testid="void-keys-modal"
      />
      <RevealModal keyRow={revealing} onClose={() => setRevealing(null)} />
    </Space>
  );
}

/** 批次: the product's imports; a whole imported batch can be voided while none of it was sold. */
function Batches({ productId, skus }: { productId: number; skus: SkuStockOut[] }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const can = useCan();
  const voidImport = useVoidImport();
  const [voiding, setVoiding] = useState<ImportOut | null>(null);
  const [error, setError] = useState<string | null>(null);
  const names = new Map(skus.map((s) => [s.sku_id, s.sku_name]));

  const doVoid = (reason: string) => {
    if (!voiding) return;
    setError(null);
    voidImport.mutate(
      { id: voiding.id, reason },
      {
        onSuccess: (out) => {
          void message.success(t('inventory.voidBatchDone', { count: out.voided_count }));
          setVoiding(null);
        },
        onError: (e) => setError(describeError(toApiError(e), t)),
      },
    );
  };

  return (
    <>
      <ImportsTable
        filters={{ product_id: productId }}
        skuNames={names}
        emptyText={t('inventory.noBatches')}
        testid="batch-table"
        actions={(b) =>
          b.status === 'imported' &&
          can('inventory:void') && (
            <Button type="link" size="small" danger onClick={() => setVoiding(b)} data-testid={`void-batch-${b.id}`}>
              {t('inventory.voidBatch')}
            </Button>
          )
        }
      />
      <ReasonModal
        open={voiding !== null}
        title={t('inventory.voidBatchTitle', { id: voiding?.id ?? 0 })}
        hint={t('inventory.voidBatchHint')}
        okText={t('inventory.voidConfirm')}
        danger
        loading={voidImport.isPending}
        error={error}
        onOk={doVoid}
        onCancel={() => {
          setVoiding(null);
          setError(null);
        }}
        testid="void-batch-modal"
      />
    </>
  );
}

function SkuCard({ stock, selected, onSelect }: { stock: SkuStockOut; selected: boolean; onSelect: () => void }) {
  const { t } = useTranslation();
  return (
    <Card
      size="small"
      hoverable
      className={`kameng-sku-card${selected ? ' is-selected' : ''}`}
      onClick={onSelect}
      data-testid={`sku-card-${stock.sku_id}`}
      title={stock.sku_name}
      extra={
        stock.low_stock ? (
          <Tag color="error" data-testid={`low-stock-${stock.sku_id}`}>
            {t('inventory.lowStock')}
          </Tag>
        ) : (
          <Tag color="success">{t('inventory.stockOk')}</Tag>
        )
      }
    >
      <Row gutter={8}>
        <Col span={6}>
          <Statistic title={t('inventory.available')} value={stock.available} valueStyle={{ color: '#1677ff' }} data-testid={`sku-available-${stock.sku_id}`} />
        </Col>
        <Col span={6}>
          <Statistic title={t('inventory.sold')} value={stock.sold} data-testid={`sku-sold-${stock.sku_id}`} />
        </Col>
        <Col span={6}>
          <Statistic title={t('inventory.voided')} value={stock.voided} data-testid={`sku-voided-${stock.sku_id}`} />
        </Col>
        <Col span={6}>
          <Statistic title={t('inventory.reserved')} value={stock.reserved} />
        </Col>
      </Row>
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>
        {t('inventory.thresholdText', { value: stock.threshold > 0 ? stock.threshold : t('inventory.noThreshold') })}
      </Typography.Text>
    </Card>
  );
}

/** /catalog/inventory/:productId — stock per SKU, the keys of each state, and the batches. */
export function InventoryProductPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const can = useCan();
  const params = useParams();
  const productId = params.productId && /^\d+$/.test(params.productId) ? Number(params.productId) : null;
  const stock = useProductStock(productId);
  const [search, setSearch] = useSearchParams();
  const [tab, setTab] = useState<Tab>('available');
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<string | null>(null);
  const [exportBusy, setExportBusy] = useState(false);

  const skus = stock.data?.skus ?? [];
  const wanted = Number(search.get('sku_id'));
  const current = skus.find((s) => s.sku_id === wanted) ?? skus[0];
  const selectSku = (id: number) => setSearch({ sku_id: String(id) }, { replace: true });

  const doExport = async (reason: string) => {
    if (!current || !isKeyTab(tab)) return;
    setExportBusy(true);
    setExportError(null);
    try {
      const name = await exportKeys({ sku_id: current.sku_id, state: tab, reason });
      void message.success(`${t('inventory.exported')}: ${name}`);
      setExporting(false);
    } catch (e) {
      setExportError(describeAnyError(e, t));
    } finally {
      setExportBusy(false);
    }
  };

  if (productId === null || stock.isError) {
    return <Alert type="error" showIcon message={stock.error ? describeError(toApiError(stock.error), t) : t('notFound.title')} />;
  }

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('inventory.productTitle', { name: stock.data?.product_name ?? `#${productId}` })}
        subtitle={t('inventory.productSubtitle')}
        extra={
          <>
            <Link to={INVENTORY_PATH}>
              <Button data-testid="back-to-inventory">{t('inventory.backToList')}</Button>
            </Link>
            {can('inventory:import') && (
              <Link to={current ? `${IMPORT_PATH}?sku_id=${current.sku_id}` : IMPORT_PATH}>
                <Button type="primary" icon={<ImportOutlined />} data-testid="product-import">
                  {t('inventory.importKeys')}
                </Button>
              </Link>
            )}
          </>
        }
      />
      {stock.isPending ? (
        <Card className="kameng-card">
          <Skeleton active paragraph={{ rows: 6 }} />
        </Card>
      ) : (
        <>
          <Row gutter={[16, 16]}>
            {skus.map((s) => (
              <Col key={s.sku_id} xs={24} md={12} xl={8}>
                <SkuCard stock={s} selected={s.sku_id === current?.sku_id} onSelect={() => selectSku(s.sku_id)} />
              </Col>
            ))}
          </Row>
          <Card className="kameng-card" title={current ? t('inventory.skuTitle', { name: current.sku_name }) : undefined}>
            <Tabs
              activeKey={tab}
              onChange={(key) => setTab(key as Tab)}
              tabBarExtraContent={
                can('inventory:export') &&
                current &&
                isKeyTab(tab) && (
                  <Button icon={<DownloadOutlined />} onClick={() => setExporting(true)} data-testid="export-keys">
                    {t('inventory.export')}
                  </Button>
                )
              }
              items={[
                ...KEY_TABS.map((state) => ({
                  key: state,
                  label: <span data-testid={`tab-${state}`}>{t(`inventory.${state}`)}</span>,
                  children: current && tab === state ? <KeyList key={current.sku_id} stock={current} state={state} looping={stock.data.looping_keys} /> : null,
                })),
                {
                  key: 'batches',
                  label: <span data-testid="tab-batches">{t('inventory.batches')}</span>,
                  children: tab === 'batches' ? <Batches productId={productId} skus={skus} /> : null,
                },
              ]}
            />
          </Card>
        </>
      )}
      <ReasonModal
        open={exporting}
        title={t('inventory.exportTitle')}
        hint={t('inventory.exportHint')}
        okText={t('inventory.exportConfirm')}
        loading={exportBusy}
        error={exportError}
        extra={
          current && isKeyTab(tab) ? (
            <Typography.Text data-testid="export-scope">{t('inventory.exportScope', { sku: current.sku_name, state: t(`inventory.${tab}`) })}</Typography.Text>
          ) : null
        }
        onOk={(reason) => void doExport(reason)}
        onCancel={() => {
          setExporting(false);
          setExportError(null);
        }}
        testid="export-modal"
      />
    </Space>
  );
}
