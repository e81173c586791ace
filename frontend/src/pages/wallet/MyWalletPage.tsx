import { WalletOutlined } from '@ant-design/icons';
import { Card, Skeleton, Space, Statistic, Typography } from 'antd';
import { useTranslation } from 'react-i18next';

import { PageHead } from '../../components/PageHead';
import { money } from '../../format';
import { useMyWallet } from '../../queries/wallet';
import { StatementExport, StatementTable } from './walletShared';

/** 我的余额: the signed-in user's balance and statement (any user, no permission needed). */
export function MyWalletPage() {
  const { t } = useTranslation();
  const wallet = useMyWallet();

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead title={t('wallet.myTitle')} subtitle={t('wallet.mySubtitle')} />
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
      <Card className="kameng-card" title={t('wallet.statement')} extra={<StatementExport owner="me" />}>
        <StatementTable owner="me" />
      </Card>
    </Space>
  );
}
