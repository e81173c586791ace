import { Alert, Card, Table, Tag, Tooltip, Typography } from 'antd';
import { useTranslation } from 'react-i18next';

import type { UpstreamOrderOut } from '../../client';
import { describeAnyError } from '../../errorMessages';
import { formatLatency, formatTime, yuan } from '../../format';
import { useOrderUpstream, useSuppliers } from '../../queries/suppliers';

const STATE_COLOR: Record<string, string> = { submitted: 'processing', processing: 'processing', success: 'success', failed: 'error', unknown: 'warning' };

/** An order's upstream orders (what it asked of which supplier), for 订单详情; `suppliers:read`. */
export function UpstreamOrdersCard({ orderNo }: { orderNo: string }) {
  const { t } = useTranslation();
  const upstream = useOrderUpstream(orderNo, true);
  const suppliers = useSuppliers();
  const nameOf = new Map((suppliers.data ?? []).map((s) => [s.id, s.name]));
  if (upstream.isSuccess && upstream.data.length === 0) return null;
  return (
    <Card className="kameng-card" title={t('suppliers.upstream.title')} data-testid="upstream-orders">
      {upstream.isError && <Alert type="error" showIcon message={describeAnyError(upstream.error, t)} />}
      <Table<UpstreamOrderOut>
        rowKey="id"
        size="small"
        pagination={false}
        loading={upstream.isPending}
        dataSource={upstream.data ?? []}
        scroll={{ x: 900 }}
        columns={[
          { title: t('suppliers.upstream.attempt'), dataIndex: 'delivery_attempt', width: 70 },
          { title: t('suppliers.mapping.supplier'), dataIndex: 'supplier_id', render: (v: number) => nameOf.get(v) ?? `#${v}` },
          {
            title: t('suppliers.upstream.requestId'),
            dataIndex: 'request_id',
            render: (v: string, u) => (
              <Typography.Text code copyable={{ text: v }}>
                {v}
                {u.supplier_ref ? ` → ${u.supplier_ref}` : ''}
              </Typography.Text>
            ),
          },
          {
            title: t('suppliers.upstream.state'),
            dataIndex: 'state',
            render: (v: string, u) => (
              <>
                <Tag color={STATE_COLOR[v] ?? 'default'}>{t(`suppliers.upstream.states.${v}`, { defaultValue: v })}</Tag>
                {u.never_reached && <Tag>{t('suppliers.upstream.neverReached')}</Tag>}
              </>
            ),
          },
          { title: t('suppliers.mapping.cost'), dataIndex: 'cost', render: (v: string | null) => (v ? yuan(v) : '—') },
          { title: t('suppliers.upstream.latency'), dataIndex: 'latency_ms', render: (v: number | null) => formatLatency(v) ?? '—' },
          { title: t('suppliers.upstream.calls'), dataIndex: 'calls', width: 70 },
          { title: t('suppliers.upstream.time'), dataIndex: 'created_at', render: (v: string) => formatTime(v) },
          {
            title: t('suppliers.lastError'),
            dataIndex: 'last_error',
            ellipsis: true,
            render: (v: string | null) => (v ? <Tooltip title={v}><Typography.Text type="danger">{v}</Typography.Text></Tooltip> : '—'),
          },
        ]}
      />
    </Card>
  );
}
