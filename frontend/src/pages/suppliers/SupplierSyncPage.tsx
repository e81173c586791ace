import { SyncOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Empty, Input, Progress, Row, Space, Statistic, Switch, Table, Tag, Typography } from 'antd';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';

import { toApiError } from '../../api';
import type { SupplierProductOut, SyncChangeOut, SyncRunOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeAnyError, describeError } from '../../errorMessages';
import { formatTime, yuan } from '../../format';
import { useCan } from '../../queries/me';
import { useStartSync, useSupplierProducts, useSyncChanges, useSyncFinished, useSyncRun, useSyncRuns } from '../../queries/supplierSync';
import { SupplierPicker, useSupplierChoice } from './SupplierPicker';

const STATUS_COLOR: Record<SyncRunOut['status'], string> = { running: 'processing', done: 'success', failed: 'error' };

function StatusTag({ status }: { status: SyncRunOut['status'] }) {
  const { t } = useTranslation();
  return (
    <Tag color={STATUS_COLOR[status]} data-testid="sync-status" data-status={status}>
      {t(`supplierSync.status.${status}`)}
    </Tag>
  );
}

/** A run: its progress while running, its counts and mapping changes once done. */
function RunCard({ supplierId, run }: { supplierId: number; run: SyncRunOut }) {
  const { t } = useTranslation();
  const changes = useSyncChanges(supplierId, run.id, run.status === 'done');
  const percent = run.total ? Math.min(100, Math.floor((run.processed / run.total) * 100)) : 0;
  return (
    <Card className="kameng-card" title={<Space>{t('supplierSync.current', { id: run.id })}<StatusTag status={run.status} /></Space>} extra={formatTime(run.started_at)} data-testid="sync-run">
      {run.status === 'running' && (
        <div data-testid="sync-progress" data-processed={run.processed} data-total={run.total ?? ''}>
          {run.total === null ? (
            <>
              <Progress percent={100} status="active" showInfo={false} />
              <Typography.Text type="secondary">{t('supplierSync.listing')}</Typography.Text>
            </>
          ) : (
            <>
              <Progress percent={percent} status="active" />
              <Typography.Text type="secondary">{t('supplierSync.progress', { processed: run.processed, total: run.total })}</Typography.Text>
            </>
          )}
        </div>
      )}
      {run.status === 'failed' && <Alert type="error" showIcon message={t('supplierSync.failed')} description={run.error} data-testid="sync-failed" />}
      {run.status !== 'running' && (
        <Row gutter={16} data-testid="sync-counts" style={{ marginTop: run.status === 'failed' ? 16 : 0 }}>
          {(['created', 'updated', 'missing', 'repriced', 'disabled'] as const).map((k) => (
            <Col xs={12} md={4} key={k}>
              <Statistic title={t(`supplierSync.${k}`)} value={run[k]} valueStyle={k === 'disabled' && run[k] > 0 ? { color: '#cf1322' } : undefined} />
            </Col>
          ))}
        </Row>
      )}
      {run.status === 'done' && (
        <>
          <Typography.Title level={5} style={{ marginTop: 16 }}>
            {t('supplierSync.changes')}
          </Typography.Title>
          <Table<SyncChangeOut>
            rowKey="id"
            size="small"
            loading={changes.isPending}
            dataSource={changes.data?.items ?? []}
            pagination={{ pageSize: 20, hideOnSinglePage: true }}
            data-testid="sync-changes"
            locale={{ emptyText: t('supplierSync.noChanges') }}
            columns={[
              { title: t('supplierSync.productId'), dataIndex: 'product_id' },
              { title: t('supplierSync.sku'), dataIndex: 'sku_id', width: 90 },
              {
                title: t('supplierSync.change'),
                dataIndex: 'change',
                width: 90,
                render: (c: SyncChangeOut['change']) => <Tag color={c === 'disabled' ? 'error' : 'warning'}>{t(`supplierSync.changeKinds.${c}`)}</Tag>,
              },
              { title: t('supplierSync.cost'), key: 'cost', render: (_, c) => `${yuan(c.old_cost)} → ${yuan(c.new_cost)}` },
              { title: t('supplierSync.note'), dataIndex: 'note', ellipsis: true },
            ]}
          />
        </>
      )}
    </Card>
  );
}

function Catalogue({ supplierId }: { supplierId: number }) {
  const { t } = useTranslation();
  const [q, setQ] = useState('');
  const [present, setPresent] = useState(false);
  const products = useSupplierProducts(supplierId, q, present);
  return (
    <Card
      className="kameng-card"
      title={t('supplierSync.catalogue')}
      extra={
        <Space wrap>
          <Input.Search allowClear placeholder={t('supplierSync.search')} onSearch={(v) => setQ(v.trim())} style={{ width: 240 }} data-testid="catalogue-search" />
          <Space size={4}>
            <Switch checked={present} onChange={setPresent} data-testid="catalogue-present" />
            {t('supplierSync.presentOnly')}
          </Space>
        </Space>
      }
    >
      {products.isError && <Alert type="error" showIcon message={describeAnyError(products.error, t)} style={{ marginBottom: 16 }} />}
      <Table<SupplierProductOut>
        rowKey="id"
        size="small"
        loading={products.isFetching}
        dataSource={products.data?.items ?? []}
        pagination={{ pageSize: 50, hideOnSinglePage: true }}
        scroll={{ x: 900 }}
        data-testid="catalogue-table"
        locale={{ emptyText: t('supplierSync.noProducts') }}
        onRow={(p) => ({ 'data-testid': `catalogue-row-${p.product_id}` }) as React.HTMLAttributes<HTMLElement>}
        columns={[
          { title: t('supplierSync.productId'), dataIndex: 'product_id', width: 160 },
          {
            title: t('supplierSync.name'),
            dataIndex: 'name',
            render: (v: string, p) => (
              <Space size={4}>
                {v}
                {!p.present && <Tag>{t('supplierSync.gone')}</Tag>}
                {p.present && !p.available && <Tag color="warning">{t('supplierSync.soldOut')}</Tag>}
              </Space>
            ),
          },
          { title: t('supplierSync.kind'), dataIndex: 'kind', width: 110 },
          { title: t('supplierSync.cost'), dataIndex: 'cost', width: 120, render: (v: string | null) => yuan(v) },
          {
            title: t('supplierSync.mappedSkus'),
            dataIndex: 'mapped_sku_ids',
            width: 180,
            render: (ids: number[]) =>
              ids.length === 0 ? <Typography.Text type="secondary">{t('supplierSync.unmapped')}</Typography.Text> : ids.map((id) => <Tag key={id} color="blue">SKU {id}</Tag>),
          },
          { title: t('supplierSync.lastSeen'), dataIndex: 'last_seen_at', width: 170, render: (v: string) => formatTime(v) },
        ]}
      />
    </Card>
  );
}

/** 上游 › 商品同步: start a catalogue sync of a supplier, follow it, see what it changed. */
export function SupplierSyncPage() {
  const { t } = useTranslation();
  const can = useCan();
  const writable = can('suppliers:write');
  const [supplierId, setSupplierId] = useSupplierChoice();
  const runs = useSyncRuns(supplierId);
  const [picked, setPicked] = useState<{ supplierId: number; runId: number } | null>(null);
  const runId = picked && picked.supplierId === supplierId ? picked.runId : (runs.data?.items[0]?.id ?? null);
  const run = useSyncRun(supplierId, runId);
  const start = useStartSync();
  const finished = useSyncFinished();
  const [error, setError] = useState<string | null>(null);

  // a run that ends while watched: the history and the catalogue changed
  const lastStatus = useRef<string | undefined>(undefined);
  const status = run.data?.status;
  useEffect(() => {
    if (lastStatus.current === 'running' && status !== 'running' && status !== undefined) void finished();
    lastStatus.current = status;
  }, [status, finished]);

  const startSync = () => {
    if (supplierId === null) return;
    setError(null);
    start.mutate(supplierId, {
      onSuccess: (r) => setPicked({ supplierId, runId: r.id }),
      onError: (e) => setError(describeError(toApiError(e), t)),
    });
  };

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('supplierSync.title')}
        subtitle={t('supplierSync.subtitle')}
        extra={
          <Space wrap>
            <SupplierPicker value={supplierId} onChange={(id) => { setSupplierId(id); setError(null); }} />
            {writable && (
              <Button type="primary" icon={<SyncOutlined />} disabled={supplierId === null || status === 'running'} loading={start.isPending} onClick={startSync} data-testid="sync-start">
                {t('supplierSync.start')}
              </Button>
            )}
          </Space>
        }
      />
      {error && <Alert type="error" showIcon closable onClose={() => setError(null)} message={error} data-testid="sync-error" />}
      {supplierId !== null && (
        <>
          {run.data ? (
            <RunCard supplierId={supplierId} run={run.data} />
          ) : (
            !runs.isPending && runId === null && <Card className="kameng-card" data-testid="sync-none"><Empty description={t('supplierSync.none')} /></Card>
          )}
          {run.isError && <Alert type="error" showIcon message={describeAnyError(run.error, t)} />}
          <Card className="kameng-card" title={t('supplierSync.history')}>
            <Table<SyncRunOut>
              rowKey="id"
              size="small"
              loading={runs.isPending}
              dataSource={runs.data?.items ?? []}
              pagination={false}
              data-testid="sync-history"
              locale={{ emptyText: t('supplierSync.none') }}
              rowClassName={(r) => (r.id === runId ? 'ant-table-row-selected' : '')}
              columns={[
                { title: '#', dataIndex: 'id', width: 70 },
                { title: t('supplierSync.startedAt'), dataIndex: 'started_at', width: 170, render: (v: string) => formatTime(v) },
                { title: t('supplierSync.finishedAt'), dataIndex: 'finished_at', width: 170, render: (v: string | null) => formatTime(v) },
                { title: '', dataIndex: 'status', width: 90, render: (s: SyncRunOut['status']) => <StatusTag status={s} /> },
                { title: '', key: 'counts', render: (_, r) => (r.status === 'running' ? '—' : t('supplierSync.counts', r)) },
                {
                  title: '',
                  key: 'view',
                  width: 80,
                  render: (_, r) => (
                    <Button type="link" size="small" onClick={() => setPicked({ supplierId, runId: r.id })} data-testid={`sync-view-${r.id}`}>
                      {t('supplierSync.view')}
                    </Button>
                  ),
                },
              ]}
            />
          </Card>
          <Catalogue supplierId={supplierId} />
        </>
      )}
    </Space>
  );
}
