import { DownloadOutlined, ReconciliationOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Col, DatePicker, Empty, Progress, Row, Select, Space, Statistic, Table, Tag, Typography } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';

import { toApiError } from '../../api';
import type { ReconMismatchOut, ReconReportOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeAnyError, describeError } from '../../errorMessages';
import { formatTime, yuan } from '../../format';
import { useCan } from '../../queries/me';
import {
  exportRecon,
  MISMATCH_KINDS,
  useReconFinished,
  useReconMismatches,
  useReconReport,
  useReconReports,
  useStartRecon,
  type MismatchKind,
} from '../../queries/supplierSync';
import { SupplierPicker, useSupplierChoice } from './SupplierPicker';

const STATUS_COLOR: Record<ReconReportOut['status'], string> = { running: 'processing', done: 'success', failed: 'error' };

function StatusTag({ status }: { status: ReconReportOut['status'] }) {
  const { t } = useTranslation();
  return (
    <Tag color={STATUS_COLOR[status]} data-testid="recon-status" data-status={status}>
      {t(`supplierRecon.status.${status}`)}
    </Tag>
  );
}

/** Yesterday, as whole days: [yesterday, yesterday]. */
export function yesterday(): [Dayjs, Dayjs] {
  const d = dayjs().subtract(1, 'day').startOf('day');
  return [d, d];
}

/** The API's period of whole days: since the first day's start, until the day after the last (exclusive). */
export function periodOf([from, to]: [Dayjs, Dayjs]): { since: string; until: string } {
  return { since: from.startOf('day').format(), until: to.add(1, 'day').startOf('day').format() };
}

function ExportButton({ supplierId, reportId }: { supplierId: number; reportId: number }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [busy, setBusy] = useState(false);
  const download = async () => {
    setBusy(true);
    try {
      const name = await exportRecon(supplierId, reportId);
      void message.success(`${t('supplierRecon.exported')}: ${name}`);
    } catch (e) {
      void message.error(describeAnyError(e, t));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Button icon={<DownloadOutlined />} loading={busy} onClick={() => void download()} data-testid="recon-export">
      {t('supplierRecon.export')}
    </Button>
  );
}

/** A report: its progress while running; the summary and mismatches once done. */
function ReportCard({ supplierId, report }: { supplierId: number; report: ReconReportOut }) {
  const { t } = useTranslation();
  const [kind, setKind] = useState<MismatchKind | null>(null);
  const done = report.status === 'done';
  const mismatches = useReconMismatches(supplierId, report.id, kind, done);
  const percent = report.total > 0 ? Math.min(100, Math.floor((report.checked / report.total) * 100)) : 0;
  return (
    <Card
      className="kameng-card"
      data-testid="recon-report"
      title={
        <Space>
          {t('supplierRecon.current', { id: report.id })}
          <StatusTag status={report.status} />
          <Typography.Text type="secondary" style={{ fontWeight: 'normal' }}>
            {formatTime(report.period_start)} – {formatTime(report.period_end)}
          </Typography.Text>
        </Space>
      }
      extra={done && <ExportButton supplierId={supplierId} reportId={report.id} />}
    >
      {report.status === 'running' && (
        <div data-testid="recon-progress" data-checked={report.checked} data-total={report.total}>
          {report.total === 0 ? <Progress percent={100} status="active" showInfo={false} /> : <Progress percent={percent} status="active" />}
          <Typography.Text type="secondary">
            {report.total === 0 ? t('supplierRecon.preparing') : t('supplierRecon.progress', { checked: report.checked, total: report.total })}
          </Typography.Text>
        </div>
      )}
      {report.status === 'failed' && <Alert type="error" showIcon message={t('supplierRecon.failed')} description={report.error} data-testid="recon-failed" />}
      {done && (
        <Space direction="vertical" size={16} style={{ width: '100%' }}>
          {!report.theirs_listed && <Alert type="warning" showIcon message={t('supplierRecon.theirsNotListed')} description={report.note || undefined} data-testid="recon-not-listed" />}
          {report.theirs_listed && report.note && <Alert type="info" showIcon message={report.note} />}
          <Row gutter={16} data-testid="recon-summary">
            <Col xs={12} md={6}>
              <Statistic title={t('supplierRecon.total')} value={report.total} />
            </Col>
            <Col xs={12} md={6}>
              <Statistic title={t('supplierRecon.matched')} value={report.matched} valueStyle={{ color: '#3f8600' }} />
            </Col>
            <Col xs={12} md={6}>
              <Statistic title={t('supplierRecon.mismatched')} value={report.mismatched} valueStyle={report.mismatched > 0 ? { color: '#cf1322' } : undefined} />
            </Col>
            <Col xs={12} md={6}>
              <Statistic title={t('supplierRecon.costAtStake')} value={yuan(report.cost_at_stake)} />
            </Col>
          </Row>
          <Table<{ kind: MismatchKind; count: number; amount: string }>
            rowKey="kind"
            size="small"
            pagination={false}
            data-testid="recon-kinds"
            dataSource={MISMATCH_KINDS.map((k) => ({ kind: k, count: report.counts[k], amount: report.amounts[k] }))}
            onRow={(r) => ({ 'data-testid': `recon-kind-${r.kind}` }) as React.HTMLAttributes<HTMLElement>}
            columns={[
              { title: t('supplierRecon.kind'), dataIndex: 'kind', render: (k: MismatchKind) => t(`supplierRecon.kinds.${k}`) },
              { title: t('supplierRecon.count'), dataIndex: 'count', width: 100 },
              { title: t('supplierRecon.amount'), dataIndex: 'amount', width: 160, render: (v: string) => yuan(v) },
            ]}
          />
          <Space style={{ justifyContent: 'space-between', width: '100%' }} wrap>
            <Typography.Title level={5} style={{ margin: 0 }}>
              {t('supplierRecon.mismatches')}
            </Typography.Title>
            <Select<MismatchKind | ''>
              style={{ minWidth: 220 }}
              value={kind ?? ''}
              onChange={(v) => setKind(v === '' ? null : v)}
              data-testid="recon-kind-filter"
              options={[{ value: '', label: t('supplierRecon.allKinds') }, ...MISMATCH_KINDS.map((k) => ({ value: k, label: t(`supplierRecon.kinds.${k}`) }))]}
            />
          </Space>
          {mismatches.isError && <Alert type="error" showIcon message={describeAnyError(mismatches.error, t)} />}
          <Table<ReconMismatchOut>
            rowKey="id"
            size="small"
            loading={mismatches.isFetching}
            dataSource={mismatches.data?.items ?? []}
            pagination={{ pageSize: 50, hideOnSinglePage: true }}
            scroll={{ x: 1100 }}
            data-testid="recon-mismatches"
            locale={{ emptyText: t('supplierRecon.noMismatches') }}
            onRow={(m) => ({ 'data-testid': `mismatch-row-${m.order_no}` }) as React.HTMLAttributes<HTMLElement>}
            columns={[
              { title: t('supplierRecon.orderNo'), dataIndex: 'order_no', width: 180 },
              { title: t('supplierRecon.requestId'), dataIndex: 'request_id', width: 180, ellipsis: true },
              { title: t('supplierRecon.kind'), dataIndex: 'kind', width: 170, render: (k: MismatchKind) => <Tag color="error">{t(`supplierRecon.kinds.${k}`)}</Tag> },
              { title: t('supplierRecon.ourState'), dataIndex: 'our_state', width: 100 },
              { title: t('supplierRecon.theirState'), dataIndex: 'their_state', width: 100, render: (s: ReconMismatchOut['their_state']) => t(`supplierRecon.theirStates.${s}`) },
              { title: t('supplierRecon.ourCost'), dataIndex: 'our_cost', width: 110, render: (v: string | null) => yuan(v) },
              { title: t('supplierRecon.theirCost'), dataIndex: 'their_cost', width: 110, render: (v: string | null) => yuan(v) },
              { title: t('supplierRecon.atStake'), dataIndex: 'at_stake', width: 110, render: (v: string) => yuan(v) },
              { title: t('supplierRecon.detail'), dataIndex: 'detail', ellipsis: true },
            ]}
          />
        </Space>
      )}
    </Card>
  );
}

/** 上游 › 对账: reconcile a supplier's orders over a period, follow it, see and export the mismatches. */
export function SupplierReconPage() {
  const { t } = useTranslation();
  const can = useCan();
  const writable = can('suppliers:write');
  const [supplierId, setSupplierId] = useSupplierChoice();
  const [period, setPeriod] = useState<[Dayjs, Dayjs]>(yesterday);
  const reports = useReconReports(supplierId);
  const [picked, setPicked] = useState<{ supplierId: number; reportId: number } | null>(null);
  const reportId = picked && picked.supplierId === supplierId ? picked.reportId : (reports.data?.items[0]?.id ?? null);
  const report = useReconReport(supplierId, reportId);
  const start = useStartRecon();
  const finished = useReconFinished();
  const [error, setError] = useState<string | null>(null);

  const lastStatus = useRef<string | undefined>(undefined);
  const status = report.data?.status;
  useEffect(() => {
    if (lastStatus.current === 'running' && status !== 'running' && status !== undefined) void finished();
    lastStatus.current = status;
  }, [status, finished]);

  const startRecon = () => {
    if (supplierId === null) return;
    setError(null);
    start.mutate(
      { supplierId, ...periodOf(period) },
      {
        onSuccess: (r) => setPicked({ supplierId, reportId: r.id }),
        onError: (e) => setError(describeError(toApiError(e), t)),
      },
    );
  };

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead title={t('supplierRecon.title')} subtitle={t('supplierRecon.subtitle')} />
      <Card className="kameng-card">
        <Space wrap align="center">
          <SupplierPicker value={supplierId} onChange={(id) => { setSupplierId(id); setError(null); }} />
          <span title={t('supplierRecon.periodHint')}>
            <DatePicker.RangePicker
              value={period}
              allowClear={false}
              disabledDate={(d) => d.isAfter(dayjs(), 'day')}
              onChange={(v) => {
                if (v?.[0] && v[1]) setPeriod([v[0], v[1]]);
              }}
              data-testid="recon-period"
            />
          </span>
          {writable && (
            <Button type="primary" icon={<ReconciliationOutlined />} disabled={supplierId === null || status === 'running'} loading={start.isPending} onClick={startRecon} data-testid="recon-start">
              {t('supplierRecon.start')}
            </Button>
          )}
        </Space>
        <Typography.Paragraph type="secondary" style={{ margin: '8px 0 0' }}>
          {t('supplierRecon.periodHint')}
        </Typography.Paragraph>
      </Card>
      {error && <Alert type="error" showIcon closable onClose={() => setError(null)} message={error} data-testid="recon-error" />}
      {supplierId !== null && (
        <>
          {report.data ? (
            <ReportCard key={report.data.id} supplierId={supplierId} report={report.data} />
          ) : (
            !reports.isPending && reportId === null && <Card className="kameng-card" data-testid="recon-none"><Empty description={t('supplierRecon.none')} /></Card>
          )}
          {report.isError && <Alert type="error" showIcon message={describeAnyError(report.error, t)} />}
          <Card className="kameng-card" title={t('supplierRecon.history')}>
            <Table<ReconReportOut>
              rowKey="id"
              size="small"
              loading={reports.isPending}
              dataSource={reports.data?.items ?? []}
              pagination={false}
              data-testid="recon-history"
              locale={{ emptyText: t('supplierRecon.none') }}
              rowClassName={(r) => (r.id === reportId ? 'ant-table-row-selected' : '')}
              columns={[
                { title: '#', dataIndex: 'id', width: 70 },
                { title: t('supplierRecon.period'), key: 'period', render: (_, r) => `${formatTime(r.period_start)} – ${formatTime(r.period_end)}` },
                { title: t('supplierRecon.startedAt'), dataIndex: 'started_at', width: 170, render: (v: string) => formatTime(v) },
                { title: '', dataIndex: 'status', width: 90, render: (s: ReconReportOut['status']) => <StatusTag status={s} /> },
                { title: t('supplierRecon.mismatched'), key: 'mismatched', width: 110, render: (_, r) => (r.status === 'done' ? `${r.mismatched} / ${r.total}` : '—') },
                { title: t('supplierRecon.costAtStake'), dataIndex: 'cost_at_stake', width: 120, render: (v: string, r) => (r.status === 'done' ? yuan(v) : '—') },
                {
                  title: '',
                  key: 'view',
                  width: 80,
                  render: (_, r) => (
                    <Button type="link" size="small" onClick={() => setPicked({ supplierId, reportId: r.id })} data-testid={`recon-view-${r.id}`}>
                      {t('supplierRecon.view')}
                    </Button>
                  ),
                },
              ]}
            />
          </Card>
        </>
      )}
    </Space>
  );
}
