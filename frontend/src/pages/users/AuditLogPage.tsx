import { DownloadOutlined, ReloadOutlined, SearchOutlined } from '@ant-design/icons';
import {
  App,
  AutoComplete,
  Button,
  Card,
  DatePicker,
  Descriptions,
  Drawer,
  Form,
  Input,
  InputNumber,
  Select,
  Space,
  Table,
  Tag,
  Typography,
} from 'antd';
import type { Dayjs } from 'dayjs';
import type { TFunction } from 'i18next';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

import type { AuditEntryOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeAnyError } from '../../errorMessages';
import { describeDevice, formatTime } from '../../format';
import zhCN from '../../i18n/locales/zh-CN';
import { exportAuditLog, useAuditLog, type AuditFilters } from '../../queries/audit';
import { useCan } from '../../queries/me';

type ActionKey = keyof typeof zhCN.auditActions;
const ACTIONS = Object.keys(zhCN.auditActions) as ActionKey[];

function isAction(value: string): value is ActionKey {
  return (ACTIONS as string[]).includes(value);
}

/**
 * The label of an action. Refused requests are logged under the route's operation id
 * ("auth:refresh", "roles:create"), which mostly matches an action name with a dot.
 */
export function actionKey(action: string): ActionKey | null {
  if (isAction(action)) return action;
  const dotted = action.replace(':', '.');
  return isAction(dotted) ? dotted : null;
}

type ResultKey = 'resultOk' | 'resultDenied' | 'resultRejected' | 'resultError' | 'resultExpired' | 'resultReuse';
const RESULT_TAGS: Record<string, { color: string; key: ResultKey }> = {
  ok: { color: 'success', key: 'resultOk' },
  denied: { color: 'error', key: 'resultDenied' },
  rejected: { color: 'warning', key: 'resultRejected' },
  error: { color: 'red', key: 'resultError' },
  expired: { color: 'default', key: 'resultExpired' },
  reuse_detected: { color: 'magenta', key: 'resultReuse' },
};

const RISK_TAGS: Record<string, { color: string; key: 'riskLow' | 'riskMedium' | 'riskHigh' }> = {
  low: { color: 'default', key: 'riskLow' },
  medium: { color: 'orange', key: 'riskMedium' },
  high: { color: 'red', key: 'riskHigh' },
};

const TARGET_TYPES = { user: 'targetUser', role: 'targetRole', session: 'targetSession', notice: 'targetNotice' } as const;

function ActionLabel({ action }: { action: string }) {
  const { t } = useTranslation();
  const label = actionKey(action);
  if (!label) return <span className="kameng-mono-small">{action}</span>;
  return (
    <div>
      <div>{t(`auditActions.${label}`)}</div>
      <Typography.Text type="secondary" className="kameng-mono-small">
        {action}
      </Typography.Text>
    </div>
  );
}

function ResultTag({ result }: { result: string }) {
  const { t } = useTranslation();
  const tag = RESULT_TAGS[result];
  return <Tag color={tag?.color ?? 'default'}>{tag ? t(`audit.${tag.key}`) : result}</Tag>;
}

function RiskTag({ risk }: { risk: string }) {
  const { t } = useTranslation();
  const tag = RISK_TAGS[risk];
  return <Tag color={tag?.color ?? 'default'}>{tag ? t(`audit.${tag.key}`) : risk}</Tag>;
}

function targetTypeLabel(type: string | null, t: TFunction): string {
  if (!type) return '';
  return type in TARGET_TYPES ? t(`audit.${TARGET_TYPES[type as keyof typeof TARGET_TYPES]}`) : type;
}

function json(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value, null, 2);
}

/** Keys whose value differs between before and after (either may be missing). */
export function changedKeys(before: Record<string, unknown> | null, after: Record<string, unknown> | null): string[] {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  return [...keys].filter((k) => json(before?.[k]) !== json(after?.[k])).sort();
}

function EntryDrawer({ entry, onClose }: { entry: AuditEntryOut | null; onClose: () => void }) {
  const { t } = useTranslation();
  const none = <Typography.Text type="secondary">{t('audit.noData')}</Typography.Text>;
  const changes = entry ? changedKeys(entry.before, entry.after) : [];
  return (
    <Drawer open={entry !== null} width={760} title={entry ? `${t('audit.detail')} #${entry.id}` : ''} onClose={onClose} data-testid="audit-drawer">
      {entry && (
        <Space direction="vertical" size={16} style={{ width: '100%' }}>
          <Descriptions column={2} size="small" bordered>
            <Descriptions.Item label={t('audit.time')} span={2}>
              {formatTime(entry.at)}
            </Descriptions.Item>
            <Descriptions.Item label={t('audit.action')} span={2}>
              <ActionLabel action={entry.action} />
            </Descriptions.Item>
            <Descriptions.Item label={t('audit.actor')}>
              {entry.actor_id ? `#${entry.actor_id} (${entry.actor_kind ?? ''})` : t('audit.anonymous')}
            </Descriptions.Item>
            <Descriptions.Item label={t('audit.target')}>
              {entry.target_type ? `${targetTypeLabel(entry.target_type, t)} #${entry.target_id ?? ''}` : none}
            </Descriptions.Item>
            <Descriptions.Item label={t('audit.result')}>
              <ResultTag result={entry.result} />
            </Descriptions.Item>
            <Descriptions.Item label={t('audit.risk')}>
              <RiskTag risk={entry.risk} />
            </Descriptions.Item>
            <Descriptions.Item label={t('audit.ip')}>{entry.ip ?? none}</Descriptions.Item>
            <Descriptions.Item label={t('audit.userAgent')}>
              <span title={entry.user_agent ?? ''}>{describeDevice(entry.user_agent)}</span>
            </Descriptions.Item>
            <Descriptions.Item label={t('audit.requestId')} span={2}>
              <Typography.Text code copyable={!!entry.request_id}>
                {entry.request_id ?? '—'}
              </Typography.Text>
            </Descriptions.Item>
            {entry.detail && (
              <Descriptions.Item label={t('audit.detailText')} span={2}>
                {entry.detail}
              </Descriptions.Item>
            )}
          </Descriptions>
          {changes.length > 0 && entry.before && entry.after && (
            <Card size="small" title={t('audit.changes')}>
              <Table
                size="small"
                pagination={false}
                rowKey="key"
                dataSource={changes.map((key) => ({ key, before: json(entry.before?.[key]), after: json(entry.after?.[key]) }))}
                columns={[
                  { title: t('audit.field'), dataIndex: 'key', width: 160 },
                  { title: t('audit.before'), dataIndex: 'before', render: (v: string) => <code className="kameng-diff-old">{v || '—'}</code> },
                  { title: t('audit.after'), dataIndex: 'after', render: (v: string) => <code className="kameng-diff-new">{v || '—'}</code> },
                ]}
              />
            </Card>
          )}
          <div className="kameng-json-pair">
            <Card size="small" title={t('audit.before')}>
              {entry.before ? <pre className="kameng-json" data-testid="audit-before">{json(entry.before)}</pre> : none}
            </Card>
            <Card size="small" title={t('audit.after')}>
              {entry.after ? <pre className="kameng-json" data-testid="audit-after">{json(entry.after)}</pre> : none}
            </Card>
          </div>
        </Space>
      )}
    </Drawer>
  );
}

interface FilterValues {
  actor_id?: number | null;
  action?: string;
  target_type?: string;
  target_id?: string;
  result?: string;
  range?: [Dayjs | null, Dayjs | null] | null;
}

/** The form's values as the API's query parameters (empty ones left out). */
export function toAuditFilters(values: FilterValues): AuditFilters {
  const filters: AuditFilters = {};
  if (values.actor_id) filters.actor_id = values.actor_id;
  if (values.action?.trim()) filters.action = values.action.trim();
  if (values.target_type?.trim()) filters.target_type = values.target_type.trim();
  if (values.target_id?.trim()) filters.target_id = values.target_id.trim();
  if (values.result) filters.result = values.result;
  if (values.range?.[0]) filters.since = values.range[0].toISOString();
  if (values.range?.[1]) filters.until = values.range[1].toISOString();
  return filters;
}

/** 用户与权限 › 操作日志: the operation log, filterable, with before/after detail and CSV export. */
export function AuditLogPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const can = useCan();
  const [form] = Form.useForm<FilterValues>();
  const [filters, setFilters] = useState<AuditFilters>({});
  const [entry, setEntry] = useState<AuditEntryOut | null>(null);
  const [exporting, setExporting] = useState(false);
  const log = useAuditLog(filters);
  const rows = log.data?.pages.flatMap((p) => p.items) ?? [];

  const download = async () => {
    setExporting(true);
    try {
      const name = await exportAuditLog(filters);
      void message.success(`${t('audit.exported')}: ${name}`);
    } catch (e) {
      void message.error(describeAnyError(e, t));
    } finally {
      setExporting(false);
    }
  };

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('audit.title')}
        subtitle={t('audit.subtitle')}
        extra={
          can('audit:export') && (
            <Button icon={<DownloadOutlined />} loading={exporting} onClick={() => void download()} data-testid="audit-export">
              {t('audit.export')}
            </Button>
          )
        }
      />
      <Card className="kameng-card">
        <Form form={form} layout="inline" className="kameng-filters" onFinish={(values) => setFilters(toAuditFilters(values))}>
          <Form.Item name="actor_id">
            <InputNumber min={1} placeholder={t('audit.actorId')} style={{ width: 130 }} data-testid="audit-filter-actor" />
          </Form.Item>
          <Form.Item name="action">
            <AutoComplete
              allowClear
              placeholder={t('audit.actionPlaceholder')}
              style={{ width: 250 }}
              options={ACTIONS.map((a) => ({ value: a, label: `${a} · ${t(`auditActions.${a}`)}` }))}
              filterOption={(input, option) => !!option?.value.startsWith(input.trim())}
              data-testid="audit-filter-action"
            />
          </Form.Item>
          <Form.Item name="target_type">
            <Select
              allowClear
              placeholder={t('audit.targetType')}
              style={{ width: 130 }}
              options={Object.entries(TARGET_TYPES).map(([value, key]) => ({ value, label: t(`audit.${key}`) }))}
            />
          </Form.Item>
          <Form.Item name="target_id">
            <Input allowClear placeholder={t('audit.targetId')} style={{ width: 120 }} />
          </Form.Item>
          <Form.Item name="result">
            <Select
              allowClear
              placeholder={t('audit.result')}
              style={{ width: 130 }}
              options={Object.entries(RESULT_TAGS).map(([value, tag]) => ({ value, label: t(`audit.${tag.key}`) }))}
            />
          </Form.Item>
          <Form.Item name="range">
            <DatePicker.RangePicker showTime />
          </Form.Item>
          <Space>
            <Button type="primary" htmlType="submit" icon={<SearchOutlined />} data-testid="audit-search">
              {t('audit.search')}
            </Button>
            <Button
              icon={<ReloadOutlined />}
              onClick={() => {
                form.resetFields();
                setFilters({});
              }}
            >
              {t('audit.reset')}
            </Button>
          </Space>
        </Form>
      </Card>
      <Card className="kameng-card">
        <Table<AuditEntryOut>
          rowKey="id"
          size="middle"
          loading={log.isPending || (log.isFetching && !log.isFetchingNextPage)}
          dataSource={rows}
          pagination={false}
          scroll={{ x: 1000 }}
          locale={{ emptyText: t('audit.empty') }}
          data-testid="audit-table"
          onRow={(record) => ({ onClick: () => setEntry(record), className: 'kameng-clickable' })}
          columns={[
            { title: t('audit.time'), dataIndex: 'at', width: 170, render: formatTime },
            {
              title: t('audit.actor'),
              key: 'actor',
              width: 120,
              render: (_, e) =>
                e.actor_id ? (
                  <span>
                    #{e.actor_id} <Typography.Text type="secondary">{e.actor_kind}</Typography.Text>
                  </span>
                ) : (
                  <Typography.Text type="secondary">{t('audit.anonymous')}</Typography.Text>
                ),
            },
            { title: t('audit.action'), dataIndex: 'action', render: (a: string) => <ActionLabel action={a} /> },
            {
              title: t('audit.target'),
              key: 'target',
              width: 160,
              ellipsis: true,
              render: (_, e) => {
                if (!e.target_type) return '—';
                const text = `${targetTypeLabel(e.target_type, t)} #${e.target_id ?? ''}`;
                return <span title={text}>{text}</span>;
              },
            },
            { title: t('audit.result'), dataIndex: 'result', width: 100, render: (r: string) => <ResultTag result={r} /> },
            { title: t('audit.risk'), dataIndex: 'risk', width: 80, render: (r: string) => <RiskTag risk={r} /> },
            { title: t('audit.ip'), dataIndex: 'ip', width: 130, render: (ip: string | null) => ip ?? '—' },
            {
              title: '',
              key: 'open',
              width: 80,
              render: (_, e) => (
                <Button size="small" type="link" onClick={() => setEntry(e)}>
                  {t('audit.detail')}
                </Button>
              ),
            },
          ]}
        />
        <div className="kameng-load-more">
          {log.hasNextPage ? (
            <Button onClick={() => void log.fetchNextPage()} loading={log.isFetchingNextPage} data-testid="audit-more">
              {t('audit.loadMore')}
            </Button>
          ) : (
            rows.length > 0 && <Typography.Text type="secondary">{t('audit.noMore')}</Typography.Text>
          )}
        </div>
      </Card>
      <EntryDrawer entry={entry} onClose={() => setEntry(null)} />
    </Space>
  );
}
