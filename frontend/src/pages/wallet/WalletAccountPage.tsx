import { EditOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Descriptions, Skeleton, Space, Statistic } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation, useParams } from 'react-router';

import type { AccountOut, AdjustOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { money, yuan } from '../../format';
import { useCan } from '../../queries/me';
import { useStatement } from '../../queries/wallet';
import { AdjustModal } from './AdjustModal';
import { ACCOUNTS_PATH, StatementExport, StatementTable, UserKindTag } from './walletShared';

/** The accounts list hands the row over in the location state (there is no single-account API). */
function accountFromState(state: unknown, userId: number): AccountOut | null {
  if (typeof state !== 'object' || state === null || !('user_id' in state)) return null;
  return state.user_id === userId ? (state as AccountOut) : null;
}

/** /finance/accounts/:userId — one user's balance and statement; export and 调账 by permission. */
export function WalletAccountPage() {
  const { t } = useTranslation();
  const can = useCan();
  const params = useParams();
  const location = useLocation();
  const userId = params.userId && /^\d+$/.test(params.userId) ? Number(params.userId) : null;
  const account = userId === null ? null : accountFromState(location.state, userId);
  // the newest line carries the balance (no movement yet: nothing in the wallet)
  const statement = useStatement(userId);
  const newest = statement.data?.pages[0]?.items[0];
  const balance = statement.data ? (newest?.balance_after ?? '0') : undefined;
  const [adjusting, setAdjusting] = useState(false);
  const [adjusted, setAdjusted] = useState<AdjustOut | null>(null);

  if (userId === null) return <Alert type="error" showIcon message={t('notFound.title')} />;
  const name = account?.display_name || account?.email || account?.phone || t('wallet.userNo', { id: userId });

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('wallet.accountTitle', { name })}
        subtitle={t('wallet.accountSubtitle')}
        extra={
          <>
            <Link to={ACCOUNTS_PATH}>
              <Button data-testid="back-to-accounts">{t('wallet.backToAccounts')}</Button>
            </Link>
            {can('wallet:adjust') && (
              <Button type="primary" icon={<EditOutlined />} disabled={!statement.data} onClick={() => setAdjusting(true)} data-testid="adjust">
                {t('wallet.adjust')}
              </Button>
            )}
          </>
        }
      />
      {adjusted && (
        <Alert
          type="success"
          showIcon
          closable
          onClose={() => setAdjusted(null)}
          message={t('wallet.adjustDone', { balance: yuan(adjusted.balance), entry: adjusted.entry_id })}
          data-testid="adjust-done"
        />
      )}
      <Card className="kameng-card">
        {statement.isPending ? (
          <Skeleton active paragraph={{ rows: 2 }} />
        ) : (
          <Space size={48} align="center" wrap>
            <Statistic
              title={t('wallet.balance')}
              value={statement.isError ? '—' : money(balance)}
              prefix="¥"
              valueStyle={{ fontSize: 30, fontWeight: 600 }}
              data-testid="account-balance"
            />
            <Descriptions
              size="small"
              column={1}
              style={{ width: 420 }}
              items={[
                { key: 'id', label: t('wallet.userId'), children: `#${userId}` },
                ...(account
                  ? [
                      { key: 'contact', label: t('wallet.contact'), children: account.email ?? account.phone ?? '—' },
                      { key: 'kind', label: t('wallet.userKind'), children: <UserKindTag kind={account.user_kind} /> },
                    ]
                  : []),
              ]}
            />
          </Space>
        )}
      </Card>
      <Card className="kameng-card" title={t('wallet.statement')} extra={can('wallet:export') && <StatementExport owner={userId} />}>
        <StatementTable owner={userId} />
      </Card>
      <AdjustModal
        open={adjusting}
        userId={userId}
        name={name}
        balance={balance}
        onClose={() => setAdjusting(false)}
        onDone={setAdjusted}
      />
    </Space>
  );
}
