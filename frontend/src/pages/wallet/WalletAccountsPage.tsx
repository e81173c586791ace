import { Card, Input, Space, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState, type HTMLAttributes } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';

import type { AccountOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { formatTime, yuan } from '../../format';
import { ACCOUNTS_PAGE, useAccounts } from '../../queries/wallet';
import { ACCOUNTS_PATH, UserKindTag } from './walletShared';

/** The account detail of `account`; the row goes along so the page can name the user. */
export function accountLink(account: AccountOut): { to: string; state: AccountOut } {
  return { to: `${ACCOUNTS_PATH}/${account.user_id}`, state: account };
}

/** 财务 › 余额账户: user wallets, largest balance first, searchable by email or phone. */
export function WalletAccountsPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [q, setQ] = useState('');
  const [page, setPage] = useState(1);
  const accounts = useAccounts(q, page);

  const columns: ColumnsType<AccountOut> = [
    {
      title: t('wallet.user'),
      key: 'user',
      render: (_, a) => (
        <div className="kameng-user-cell">
          <Typography.Text strong ellipsis>
            {a.display_name || '—'}
          </Typography.Text>
          <Typography.Text type="secondary" ellipsis>
            {a.email ?? a.phone ?? `#${a.user_id}`}
          </Typography.Text>
        </div>
      ),
    },
    { title: t('wallet.userId'), dataIndex: 'user_id', width: 100, render: (id: number) => `#${id}` },
    { title: t('wallet.userKind'), dataIndex: 'user_kind', width: 110, render: (kind: string) => <UserKindTag kind={kind} /> },
    {
      title: t('wallet.balance'),
      dataIndex: 'balance',
      width: 160,
      align: 'right',
      render: (v: string, a) => (
        <strong className="kameng-amount" data-testid={`account-balance-${a.user_id}`}>
          {yuan(v)}
        </strong>
      ),
    },
    { title: t('wallet.updatedAt'), dataIndex: 'updated_at', width: 180, render: formatTime },
    {
      title: t('wallet.actions'),
      key: 'actions',
      width: 100,
      render: (_, a) => {
        const link = accountLink(a);
        return (
          <Link to={link.to} state={link.state} onClick={(e) => e.stopPropagation()} data-testid={`account-open-${a.user_id}`}>
            {t('wallet.view')}
          </Link>
        );
      },
    },
  ];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead title={t('wallet.accountsTitle')} subtitle={t('wallet.accountsSubtitle')} />
      <Card className="kameng-card">
        <Space direction="vertical" size={16} style={{ width: '100%' }}>
          <Input.Search
            allowClear
            placeholder={t('wallet.search')}
            maxLength={100}
            onSearch={(value) => {
              setQ(value.trim());
              setPage(1);
            }}
            style={{ width: 300 }}
            data-testid="accounts-search"
          />
          <Table<AccountOut>
            rowKey="user_id"
            size="middle"
            loading={accounts.isFetching}
            dataSource={accounts.data?.items ?? []}
            columns={columns}
            scroll={{ x: 860 }}
            rowClassName="kameng-clickable"
            onRow={(a) =>
              ({
                'data-testid': `account-row-${a.user_id}`,
                onClick: () => {
                  const link = accountLink(a);
                  void navigate(link.to, { state: link.state });
                },
              }) as HTMLAttributes<HTMLElement>
            }
            pagination={{
              current: page,
              pageSize: ACCOUNTS_PAGE,
              total: accounts.data?.total ?? 0,
              showSizeChanger: false,
              showTotal: (total) => t('wallet.accountsTotal', { total }),
              onChange: setPage,
            }}
            locale={{ emptyText: t('wallet.noAccounts') }}
            data-testid="accounts-table"
          />
        </Space>
      </Card>
    </Space>
  );
}
