import { WalletOutlined } from '@ant-design/icons';
import { useQueryClient } from '@tanstack/react-query';
import { Alert, Card, Skeleton, Space, Statistic, Typography } from 'antd';
import { useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';

import { PageHead } from '../../components/PageHead';
import { money } from '../../format';
import { invalidateWallet, useMyWallet } from '../../queries/wallet';
import { RechargeCard } from './RechargeCard';
import { StatementExport, StatementTable } from './walletShared';

/** After the payment gateway sends the buyer back (it adds `out_trade_no`, `trade_status` … to
 * the return URL), the balance is asked again every few seconds for a while: the gateway's
 * notice may arrive a moment after the buyer does. */
const RETURN_POLL_MS = 3_000;
const RETURN_POLL_FOR_MS = 30_000;

/** 我的余额: the signed-in user's balance, recharge (充值) and statement (any user, no
 * permission needed). */
export function MyWalletPage() {
  const { t } = useTranslation();
  const wallet = useMyWallet();
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const returned = params.has('out_trade_no') || params.has('trade_status');

  useEffect(() => {
    if (!returned) return;
    const started = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - started > RETURN_POLL_FOR_MS) clearInterval(timer);
      else void invalidateWallet(queryClient);
    }, RETURN_POLL_MS);
    return () => clearInterval(timer);
  }, [returned, queryClient]);

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead title={t('wallet.myTitle')} subtitle={t('wallet.mySubtitle')} />
      {returned && <Alert type="info" showIcon closable message={t('wallet.rechargeReturned')} data-testid="recharge-returned" />}
      <Card className="kameng-card">
        {wallet.isPending ? (
          <Skeleton active paragraph={{ rows: 1 }} />
        ) : (
          <Space size={24} align="center" wrap>
            <span className="kameng-balance-icon" aria-hidden>
              <WalletOutlined />
            </span>
            <Statistic
              title={t('wallet.balance')}
              value={money(wallet.data?.balance)}
              prefix="¥"
              valueStyle={{ fontSize: 32, fontWeight: 600 }}
              data-testid="my-balance"
            />
            <Typography.Text type="secondary">{t('wallet.currencyNote')}</Typography.Text>
          </Space>
        )}
      </Card>
      <RechargeCard />
      <Card className="kameng-card" title={t('wallet.statement')} extra={<StatementExport owner="me" />}>
        <StatementTable owner="me" />
      </Card>
    </Space>
  );
}
