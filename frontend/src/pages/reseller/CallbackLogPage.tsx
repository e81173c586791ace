import { ReloadOutlined, SendOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Descriptions, Drawer, Input, Select, Skeleton, Space, Table, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

import { toApiError } from '../../api';
import type { CallbackAttemptOut, CallbackOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeAnyError, describeError } from '../../errorMessages';
import { formatLatency, formatTime } from '../../format';
import { useCan } from '../../queries/me';
import {
  CALLBACK_EVENTS,
  CALLBACK_STATUSES,
  useCallbackDetail,
  useCallbackLog,
  useResendCallback,
  type CallbackEvent,
  type CallbackFilters,
  type CallbackStatus,
} from '../../queries/resellers';

const STATUS_COLOR: Record<CallbackStatus, string> = { pending: 'processing', delivered: 'success', failed: 'error', skipped: 'default' };

export function CallbackStatusTag({ status }: { status: CallbackStatus }) {
  const { t } = useTranslation();
  return (
    <Tag color={STATUS_COLOR[status]} data-testid="callback-status">
      {t(`reseller.cbStatus.${status}`)}
    </Tag>
  );
}

function HttpStatus({ code, error }: { code: number | null; error: string | null }) {
  if (code !== null) return <Tag color={code >= 200 && code < 300 ? 'success' : 'error'}>HTTP {code}</Tag>;
  return error ? <Tag color="error">—</Tag> : <span>—</span>;
}

/** One callback: the body as sent and every attempt; resend. */
function CallbackDrawer({ id, admin, onClose }: { id: number | null; admin: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const can = useCan();
  const detail = useCallbackDetail(id, admin);
  const resend = useResendCallback(admin);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const mayResend = !admin || can('resellers:callbacks_resend');
  const cb = detail.data;

  return (
    <Drawer open={id !== null} onClose={onClose} width={760} title={t('reseller.callbackDetail', { id: id ?? '' })} destroyOnHidden data-testid="callback-drawer">
      {detail.isPending ? (
        <Skeleton active />
      ) : detail.isError ? (
        <Alert type="error" showIcon message={describeAnyError(detail.error, t)} />
      ) : cb ? (
        <Space direction="vertical" size={16} style={{ width: '100%' }}>
          <Descriptions column={1} size="small" bordered>
            <Descriptions.Item label={t('reseller.event')}>{t(`reseller.cbEvent.${cb.event}`)}</Descriptions.Item>
            <Descriptions.Item label={t('reseller.status')}>
              <CallbackStatusTag status={cb.status} />
            </Descriptions.Item>
            <Descriptions.Item label="webhook-id">
              <Typography.Text code copyable>
                {cb.webhook_id}
              </Typography.Text>
            </Descriptions.Item>
            <Descriptions.Item label={t('reseller.orderNo')}>{cb.order_no ?? '—'}</Descriptions.Item>
            <Descriptions.Item label={t('reseller.outTradeNo')}>{cb.out_trade_no ?? '—'}</Descriptions.Item>
            <Descriptions.Item label={t('reseller.nextAttempt')}>{cb.next_attempt_at ? formatTime(cb.next_attempt_at) : '—'}</Descriptions.Item>
            <Descriptions.Item label="URL">
              <span className="kameng-break">{cb.url ?? t('reseller.noUrl')}</span>
            </Descriptions.Item>
          </Descriptions>
          {mayResend && (
            <Space>
              <Button
                icon={<SendOutlined />}
                loading={resend.isPending}
                data-testid="callback-resend"
                onClick={() =>
                  resend.mutate(cb.id, {
                    onSuccess: () => setNote({ ok: true, text: t('reseller.resent') }),
                    onError: (e) => setNote({ ok: false, text: describeError(toApiError(e), t) }),
                  })
                }
              >
                {t('reseller.resend')}
              </Button>
              <Typography.Text type="secondary">{t('reseller.resendHint')}</Typography.Text>
            </Space>
          )}
          {note && <Alert type={note.ok ? 'success' : 'error'} showIcon message={note.text} data-testid="resend-note" />}
          <Card size="small" title={t('reseller.attempts', { n: cb.attempt_log.length })}>
            <Table<CallbackAttemptOut>
              rowKey="attempt_no"
              size="small"
              pagination={false}
              dataSource={cb.attempt_log}
              data-testid="attempt-table"
              locale={{ emptyText: t('reseller.noAttempts') }}
              scroll={{ x: 640 }}
              columns={[
                { title: '#', dataIndex: 'attempt_no', width: 48 },
                { title: t('reseller.time'), dataIndex: 'started_at', render: (v: string) => formatTime(v), width: 170 },
                { title: t('reseller.trigger'), dataIndex: 'trigger', render: (v: string) => t(`reseller.triggerKind.${v === 'resend' ? 'resend' : 'auto'}`), width: 80 },
                { title: t('reseller.httpStatus'), dataIndex: 'status_code', render: (v: number | null, a) => <HttpStatus code={v} error={a.error} />, width: 100 },
                { title: t('reseller.latency'), dataIndex: 'latency_ms', render: (v: number) => formatLatency(v) ?? '—', width: 90 },
                {
                  title: t('reseller.answer'),
                  key: 'answer',
                  render: (_, a) => (
                    <Space direction="vertical" size={2}>
                      {a.error && <Typography.Text type="danger">{a.error}</Typography.Text>}
                      {a.response_excerpt && (
                        <Typography.Text code className="kameng-break">
                          {a.response_excerpt}
                        </Typography.Text>
                      )}
                    </Space>
                  ),
                },
              ]}
            />
          </Card>
          <Card size="small" title={t('reseller.payload')}>
            <pre className="kameng-pre" data-testid="callback-payload">
              {JSON.stringify(cb.payload, null, 2)}
            </pre>
          </Card>
        </Space>
      ) : null}
    </Drawer>
  );
}

function CallbackLog({ admin }: { admin: boolean }) {
  const { t } = useTranslation();
  const [filters, setFilters] = useState<CallbackFilters>({});
  const [orderText, setOrderText] = useState('');
  const [open, setOpen] = useState<number | null>(null);
  const log = useCallbackLog(filters, admin);
  const rows = log.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={admin ? t('reseller.adminLogTitle') : t('reseller.logTitle')}
        subtitle={admin ? t('reseller.adminLogSubtitle') : t('reseller.logSubtitle')}
        extra={
          <Button icon={<ReloadOutlined />} onClick={() => void log.refetch()} loading={log.isFetching && !log.isFetchingNextPage}>
            {t('reseller.refresh')}
          </Button>
        }
      />
      <Card className="kameng-card">
        <Space wrap style={{ marginBottom: 16 }}>
          <Select<CallbackStatus>
            allowClear
            placeholder={t('reseller.status')}
            style={{ width: 140 }}
            value={filters.status}
            onChange={(status) => setFilters({ ...filters, status })}
            options={CALLBACK_STATUSES.map((s) => ({ value: s, label: t(`reseller.cbStatus.${s}`) }))}
            data-testid="filter-status"
          />
          <Select<CallbackEvent>
            allowClear
            placeholder={t('reseller.event')}
            style={{ width: 180 }}
            value={filters.event}
            onChange={(event) => setFilters({ ...filters, event })}
            options={CALLBACK_EVENTS.map((e) => ({ value: e, label: t(`reseller.cbEvent.${e}`) }))}
            data-testid="filter-event"
          />
          <Input.Search
            allowClear
            placeholder={t('reseller.orderSearch')}
            style={{ width: 280 }}
            value={orderText}
            onChange={(e) => setOrderText(e.target.value)}
            onSearch={(v) => {
              const text = v.trim();
              // our order numbers are digits; anything else is the reseller's out_trade_no
              setFilters({ ...filters, order_no: /^\d{10,}$/.test(text) ? text : undefined, out_trade_no: text && !/^\d{10,}$/.test(text) ? text : undefined });
            }}
            data-testid="filter-order"
          />
        </Space>
        {log.isError && <Alert type="error" showIcon message={describeAnyError(log.error, t)} style={{ marginBottom: 16 }} />}
        <Table<CallbackOut & { user_id?: number }>
          rowKey="id"
          loading={log.isPending}
          dataSource={rows}
          pagination={false}
          scroll={{ x: 1000 }}
          data-testid="callback-table"
          locale={{ emptyText: t('reseller.noCallbacks') }}
          onRow={(r) => ({ onClick: () => setOpen(r.id), style: { cursor: 'pointer' } })}
          columns={[
            { title: t('reseller.time'), dataIndex: 'created_at', render: (v: string) => formatTime(v), width: 170 },
            ...(admin ? [{ title: t('reseller.reseller'), dataIndex: 'user_id', width: 90, render: (v: number) => `#${v}` }] : []),
            { title: t('reseller.event'), dataIndex: 'event', render: (v: CallbackEvent) => t(`reseller.cbEvent.${v}`) },
            { title: t('reseller.status'), dataIndex: 'status', render: (v: CallbackStatus) => <CallbackStatusTag status={v} /> },
            {
              title: t('reseller.order'),
              key: 'order',
              render: (_, r) => (
                <Space direction="vertical" size={0}>
                  <span>{r.order_no ?? '—'}</span>
                  {r.out_trade_no && <Typography.Text type="secondary">{r.out_trade_no}</Typography.Text>}
                </Space>
              ),
            },
            { title: t('reseller.attemptsCol'), dataIndex: 'attempts', width: 80 },
            { title: t('reseller.lastAnswer'), key: 'last', render: (_, r) => <HttpStatus code={r.last_status_code} error={r.last_error} /> },
            { title: t('reseller.latency'), dataIndex: 'last_latency_ms', render: (v: number | null) => formatLatency(v) ?? '—', width: 90 },
            {
              title: t('reseller.lastError'),
              dataIndex: 'last_error',
              ellipsis: true,
              render: (v: string | null) => (v ? <Typography.Text type="danger">{v}</Typography.Text> : '—'),
            },
          ]}
        />
        {log.hasNextPage && (
          <div style={{ textAlign: 'center', marginTop: 16 }}>
            <Button onClick={() => void log.fetchNextPage()} loading={log.isFetchingNextPage}>
              {t('reseller.loadMore')}
            </Button>
          </div>
        )}
      </Card>
      <CallbackDrawer id={open} admin={admin} onClose={() => setOpen(null)} />
    </Space>
  );
}

/** 我的对接 › 回调日志. */
export function ResellerCallbackLogPage() {
  return <CallbackLog admin={false} />;
}

/** 交易 › 代理回调: every reseller's callbacks (`resellers:callbacks`). */
export function AdminCallbackLogPage() {
  return <CallbackLog admin />;
}
