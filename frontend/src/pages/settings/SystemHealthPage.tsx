import {
  CheckCircleFilled,
  CloseCircleFilled,
  CloudServerOutlined,
  DatabaseOutlined,
  HddOutlined,
  SyncOutlined,
} from '@ant-design/icons';
import { Alert, Button, Card, Col, Descriptions, Result, Row, Skeleton, Space, Statistic, Tag, Typography } from 'antd';
import dayjs from 'dayjs';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

import { toApiError } from '../../api';
import type { SystemInfo } from '../../client';
import { formatDuration, formatLatency } from '../../format';
import { useSystemInfo } from '../../queries/system';

const { Title, Text } = Typography;

type ComponentName = 'database' | 'redis' | 'worker';

export function StatusTag({ name, ok }: { name: ComponentName; ok: boolean }) {
  const { t } = useTranslation();
  return (
    <Tag
      color={ok ? 'success' : 'error'}
      icon={ok ? <CheckCircleFilled /> : <CloseCircleFilled />}
      data-testid={`status-${name}`}
      data-status={ok ? 'ok' : 'down'}
      className="kameng-status-tag"
    >
      {ok ? t('health.statusOk') : t('health.statusDown')}
    </Tag>
  );
}

function ComponentCard(props: {
  name: ComponentName;
  icon: ReactNode;
  ok: boolean;
  children: ReactNode;
}) {
  const { t } = useTranslation();
  const { name, icon, ok, children } = props;
  return (
    <Card
      className={`kameng-card kameng-component ${ok ? 'is-ok' : 'is-down'}`}
      data-testid={`component-${name}`}
      title={
        <Space size={12}>
          <span className="kameng-component-icon">{icon}</span>
          <span>
            <div className="kameng-component-name">{t(`health.${name}`)}</div>
            <Text type="secondary" className="kameng-component-sub">
              {t(`health.${name}Sub`)}
            </Text>
          </span>
        </Space>
      }
      extra={<StatusTag name={name} ok={ok} />}
    >
      {children}
    </Card>
  );
}

function secondsBetween(later: string, earlier: string): number {
  return Math.max(0, Math.round(dayjs(later).diff(dayjs(earlier), 'millisecond') / 1000));
}

function HealthBody({ info, updatedAt, fetching }: { info: SystemInfo; updatedAt: number; fetching: boolean }) {
  const { t } = useTranslation();
  const none = t('health.none');
  const down = (['database', 'redis', 'worker'] as const).filter((n) => !info[n].ok);
  const envNames: Record<string, string | undefined> = {
    development: t('health.env.development'),
    test: t('health.env.test'),
    staging: t('health.env.staging'),
    production: t('health.env.production'),
  };
  const envLabel = envNames[info.environment] ?? info.environment;
  const lastSeenAgo = info.worker.last_seen ? secondsBetween(info.server_time, info.worker.last_seen) : null;
  const outbox = info.outbox;

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <div className="kameng-page-head">
        <div>
          <Title level={4} style={{ margin: 0 }}>
            {t('health.title')}
          </Title>
          <Text type="secondary">{t('health.subtitle')}</Text>
        </div>
        <Space size={8} wrap>
          <Tag icon={<SyncOutlined spin={fetching} />} color="processing">
            {t('health.autoRefresh')}
          </Tag>
          <Text type="secondary">
            {t('health.lastUpdated')}: {dayjs(updatedAt).format('HH:mm:ss')}
          </Text>
        </Space>
      </div>

      {down.length === 0 ? (
        <Alert type="success" showIcon message={t('health.allOk')} data-testid="health-summary" />
      ) : (
        <Alert
          type="error"
          showIcon
          data-testid="health-summary"
          message={t('health.someDown', { names: down.map((n) => t(`health.${n}`)).join('、') })}
        />
      )}

      <Card className="kameng-card" title={t('health.overview')}>
        <Descriptions column={{ xs: 1, sm: 1, md: 3 }} colon={false} layout="vertical">
          <Descriptions.Item label={t('health.version')}>
            <Text strong data-testid="system-version" className="kameng-figure">
              {info.name} {info.version}
            </Text>
          </Descriptions.Item>
          <Descriptions.Item label={t('health.environment')}>
            <Tag color={info.environment === 'production' ? 'red' : 'blue'} data-testid="system-environment">
              {envLabel}
            </Tag>
          </Descriptions.Item>
          <Descriptions.Item label={t('health.serverTime')}>
            <Text data-testid="system-server-time" title={info.server_time} className="kameng-figure">
              {dayjs(info.server_time).format('YYYY-MM-DD HH:mm:ss')}
            </Text>
          </Descriptions.Item>
        </Descriptions>
      </Card>

      <Row gutter={[16, 16]}>
        <Col xs={24} md={8}>
          <ComponentCard name="database" icon={<DatabaseOutlined />} ok={info.database.ok}>
            <Statistic title={t('health.latency')} value={formatLatency(info.database.latency_ms) ?? none} />
            {info.database.error && (
              <Text type="danger" className="kameng-error">
                {t('health.error')}: {info.database.error}
              </Text>
            )}
          </ComponentCard>
        </Col>
        <Col xs={24} md={8}>
          <ComponentCard name="redis" icon={<HddOutlined />} ok={info.redis.ok}>
            <Statistic title={t('health.latency')} value={formatLatency(info.redis.latency_ms) ?? none} />
            {info.redis.error && (
              <Text type="danger" className="kameng-error">
                {t('health.error')}: {info.redis.error}
              </Text>
            )}
          </ComponentCard>
        </Col>
        <Col xs={24} md={8}>
          <ComponentCard name="worker" icon={<CloudServerOutlined />} ok={info.worker.ok}>
            <Statistic
              title={t('health.lastSeen')}
              value={lastSeenAgo === null ? t('health.never') : t('health.secondsAgo', { count: lastSeenAgo })}
            />
          </ComponentCard>
        </Col>
      </Row>

      <Card className="kameng-card" title={t('health.outbox')} data-testid="outbox">
        {outbox ? (
          <Row gutter={[16, 16]}>
            <Col xs={24} sm={8}>
              <Statistic title={t('health.pending')} value={outbox.pending} data-testid="outbox-pending" />
            </Col>
            <Col xs={24} sm={8}>
              <Statistic
                title={t('health.failed')}
                value={outbox.failed}
                valueStyle={outbox.failed > 0 ? { color: '#cf1322' } : undefined}
                data-testid="outbox-failed"
              />
            </Col>
            <Col xs={24} sm={8}>
              <Statistic
                title={t('health.oldestAge')}
                value={
                  outbox.oldest_pending_age_s == null ? none : formatDuration(outbox.oldest_pending_age_s, t)
                }
                data-testid="outbox-oldest"
              />
            </Col>
          </Row>
        ) : (
          <Text type="secondary">{t('health.outboxUnavailable')}</Text>
        )}
      </Card>
    </Space>
  );
}

/** 设置 › 系统状态: version, environment and the health of every part, refreshed every 5 s. */
export function SystemHealthPage() {
  const { t } = useTranslation();
  const { data, error, isPending, isFetching, dataUpdatedAt, refetch } = useSystemInfo();

  if (isPending) {
    return (
      <Card className="kameng-card">
        <Skeleton active paragraph={{ rows: 8 }} />
      </Card>
    );
  }

  if (!data) {
    return (
      <Card className="kameng-card">
        <Result
          status="error"
          title={t('health.loadFailed')}
          subTitle={toApiError(error).message}
          extra={
            <Button type="primary" onClick={() => void refetch()}>
              {t('health.retry')}
            </Button>
          }
        />
      </Card>
    );
  }

  return (
    <>
      {error && (
        <Alert type="warning" showIcon message={t('health.loadFailed')} description={toApiError(error).message} style={{ marginBottom: 16 }} />
      )}
      <HealthBody info={data} updatedAt={dataUpdatedAt} fetching={isFetching} />
    </>
  );
}
