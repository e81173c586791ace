import { ReloadOutlined, SearchOutlined } from '@ant-design/icons';
import { Button, Card, DatePicker, Form, Input, InputNumber, Select, Space, Table, Tag } from 'antd';
import type { Dayjs } from 'dayjs';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

import type { LoginEventOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeDevice, formatTime } from '../../format';
import type { Messages } from '../../i18n/locales/zh-CN';
import { useLoginLog, type LoginEventFilters } from '../../queries/loginEvents';

type LoginResult = keyof Messages['loginLog']['results'];
const RESULTS = ['success', 'bad_credentials', 'mfa_failed', 'locked', 'disabled', 'mfa_required'] as const satisfies LoginResult[];
const RESULT_COLORS: Record<LoginResult, string> = {
  success: 'success',
  bad_credentials: 'error',
  mfa_failed: 'error',
  locked: 'volcano',
  disabled: 'default',
  mfa_required: 'processing',
};

function isLoginResult(value: string): value is LoginResult {
  return (RESULTS as readonly string[]).includes(value);
}

/** The outcome of a sign-in attempt as a coloured tag (and "new device" when it was one). */
export function LoginResultTag({ result, newDevice }: { result: string; newDevice?: boolean }) {
  const { t } = useTranslation();
  return (
    <Space size={4} wrap>
      <Tag color={isLoginResult(result) ? RESULT_COLORS[result] : 'default'}>
        {isLoginResult(result) ? t(`loginLog.results.${result}`) : result}
      </Tag>
      {newDevice && <Tag color="orange">{t('loginLog.newDevice')}</Tag>}
    </Space>
  );
}

interface FilterValues {
  user_id?: number | null;
  result?: string;
  ip?: string;
  range?: [Dayjs | null, Dayjs | null] | null;
}

const IP_PATTERN = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]+)$/;

export function toLoginFilters(values: FilterValues): LoginEventFilters {
  const filters: LoginEventFilters = {};
  if (values.user_id) filters.user_id = values.user_id;
  if (values.result) filters.result = values.result;
  if (values.ip?.trim()) filters.ip = values.ip.trim();
  if (values.range?.[0]) filters.since = values.range[0].toISOString();
  if (values.range?.[1]) filters.until = values.range[1].toISOString();
  return filters;
}

/** 用户与权限 › 登录日志: every sign-in attempt, filterable, newest first. */
export function LoginLogPage() {
  const { t } = useTranslation();
  const [form] = Form.useForm<FilterValues>();
  const [filters, setFilters] = useState<LoginEventFilters>({});
  const log = useLoginLog(filters);
  const rows = log.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead title={t('loginLog.title')} subtitle={t('loginLog.subtitle')} />
      <Card className="kameng-card">
        <Form
          form={form}
          layout="inline"
          className="kameng-filters"
          onFinish={(values) => setFilters(toLoginFilters(values))}
        >
          <Form.Item name="user_id">
            <InputNumber min={1} placeholder={t('loginLog.userId')} style={{ width: 130 }} />
          </Form.Item>
          <Form.Item name="result">
            <Select
              allowClear
              placeholder={t('loginLog.allResults')}
              style={{ width: 150 }}
              options={RESULTS.map((r) => ({ value: r, label: t(`loginLog.results.${r}`) }))}
            />
          </Form.Item>
          <Form.Item name="ip" rules={[{ pattern: IP_PATTERN, message: t('loginLog.ipInvalid') }]}>
            <Input placeholder={t('loginLog.ip')} allowClear style={{ width: 170 }} />
          </Form.Item>
          <Form.Item name="range">
            <DatePicker.RangePicker showTime />
          </Form.Item>
          <Space>
            <Button type="primary" htmlType="submit" icon={<SearchOutlined />}>
              {t('loginLog.search')}
            </Button>
            <Button
              icon={<ReloadOutlined />}
              onClick={() => {
                form.resetFields();
                setFilters({});
              }}
            >
              {t('loginLog.reset')}
            </Button>
          </Space>
        </Form>
      </Card>
      <Card className="kameng-card">
        <Table<LoginEventOut>
          rowKey="id"
          size="middle"
          loading={log.isPending || (log.isFetching && !log.isFetchingNextPage)}
          dataSource={rows}
          pagination={false}
          scroll={{ x: 900 }}
          data-testid="login-log-table"
          columns={[
            { title: t('loginLog.time'), dataIndex: 'at', width: 180, render: formatTime },
            { title: t('loginLog.login'), dataIndex: 'login', ellipsis: true },
            { title: t('loginLog.userId'), dataIndex: 'user_id', width: 90, render: (id: number | null) => id ?? '—' },
            { title: t('loginLog.ip'), dataIndex: 'ip', width: 140, render: (ip: string | null) => ip ?? '—' },
            {
              title: t('loginLog.device'),
              dataIndex: 'user_agent',
              ellipsis: true,
              render: (ua: string | null) => <span title={ua ?? ''}>{describeDevice(ua)}</span>,
            },
            {
              title: t('loginLog.result'),
              key: 'result',
              width: 200,
              render: (_, e) => <LoginResultTag result={e.result} newDevice={e.new_device} />,
            },
          ]}
        />
        {log.hasNextPage && (
          <div className="kameng-load-more">
            <Button onClick={() => void log.fetchNextPage()} loading={log.isFetchingNextPage} data-testid="login-log-more">
              {t('security.loadMore')}
            </Button>
          </div>
        )}
      </Card>
    </Space>
  );
}
