import { CheckCircleFilled, CloseCircleFilled, ReloadOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Descriptions, Row, Skeleton, Space, Statistic, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';

import { toApiError } from '../../api';
import type { LedgerLineOut, TrialBalanceOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeError } from '../../errorMessages';
import { formatTime, money, signedYuan } from '../../format';
import { useTrialBalance } from '../../queries/wallet';

type AccountKind = LedgerLineOut['account_kind'];
const ACCOUNT_KINDS: readonly AccountKind[] = ['user', 'gateway', 'revenue', 'refunds', 'adjustments'];

function isAccountKind(kind: string): kind is AccountKind {
  return (ACCOUNT_KINDS as readonly string[]).includes(kind);
}

function Ids({ ids, testid }: { ids: number[]; testid: string }) {
  const { t } = useTranslation();
  return ids.length === 0 ? (
    <Typography.Text type="secondary">{t('wallet.none')}</Typography.Text>
  ) : (
    <span data-testid={testid}>
      {ids.map((id) => (
        <Tag key={id} color="error">
          #{id}
        </Tag>
      ))}
    </span>
  );
}

/** ✓ or what does not add up. */
function Verdict({ tb }: { tb: TrialBalanceOut }) {
  const { t } = useTranslation();
  const zero = (v: string) => money(v) === '0.00';
  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      {tb.balanced ? (
        <Alert
          type="success"
          showIcon
          icon={<CheckCircleFilled />}
          message={<strong>{t('wallet.balanced')}</strong>}
          description={t('wallet.balancedHint')}
          data-testid="trial-balanced"
        />
      ) : (
        <Alert
          type="error"
          showIcon
          icon={<CloseCircleFilled />}
          message={<strong>{t('wallet.unbalanced')}</strong>}
          description={t('wallet.unbalancedHint')}
          data-testid="trial-unbalanced"
        />
      )}
      <Descriptions
        bordered
        size="small"
        column={1}
        items={[
          {
            key: 'total',
            label: t('wallet.totalBalances'),
            children: <Typography.Text type={zero(tb.total) ? undefined : 'danger'} data-testid="trial-total">{signedYuan(tb.total)}</Typography.Text>,
          },
          {
            key: 'lines',
            label: t('wallet.linesTotal'),
            children: <Typography.Text type={zero(tb.lines_total) ? undefined : 'danger'} data-testid="trial-lines-total">{signedYuan(tb.lines_total)}</Typography.Text>,
          },
          { key: 'mismatched', label: t('wallet.mismatched'), children: <Ids ids={tb.mismatched_accounts} testid="trial-mismatched" /> },
          { key: 'unbalanced', label: t('wallet.unbalancedEntries'), children: <Ids ids={tb.unbalanced_entries} testid="trial-unbalanced-entries" /> },
        ]}
      />
    </Space>
  );
}

/** 财务 › 对账: the trial balance — the ledger sums to zero and every balance equals its lines. */
export function TrialBalancePage() {
  const { t } = useTranslation();
  const trial = useTrialBalance();
  const tb = trial.data;
  const kinds = tb ? [...ACCOUNT_KINDS, ...Object.keys(tb.by_kind).filter((k) => !isAccountKind(k))] : [];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('wallet.trialTitle')}
        subtitle={t('wallet.trialSubtitle')}
        extra={
          <Button icon={<ReloadOutlined />} loading={trial.isFetching} onClick={() => void trial.refetch()} data-testid="trial-refresh">
            {t('wallet.refresh')}
          </Button>
        }
      />
      {trial.isError && <Alert type="error" showIcon message={describeError(toApiError(trial.error), t)} />}
      <Card
        className="kameng-card"
        title={t('wallet.trialResult')}
        extra={tb && <Typography.Text type="secondary">{t('wallet.checkedAt', { time: formatTime(new Date(trial.dataUpdatedAt).toISOString()) })}</Typography.Text>}
      >
        {tb ? <Verdict tb={tb} /> : <Skeleton active paragraph={{ rows: 4 }} />}
      </Card>
      <Card className="kameng-card" title={t('wallet.byKind')}>
        <Typography.Paragraph type="secondary">{t('wallet.byKindHint')}</Typography.Paragraph>
        {tb ? (
          <Row gutter={[16, 16]}>
            {kinds.map((kind) => (
              <Col key={kind} xs={12} md={8} xl={4}>
                <Statistic
                  title={isAccountKind(kind) ? t(`wallet.accountKinds.${kind}`) : kind}
                  value={signedYuan(tb.by_kind[kind] ?? '0')}
                  valueStyle={{ fontSize: 20 }}
                  data-testid={`by-kind-${kind}`}
                />
              </Col>
            ))}
          </Row>
        ) : (
          <Skeleton active paragraph={{ rows: 1 }} />
        )}
      </Card>
    </Space>
  );
}
