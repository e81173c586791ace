import { Button, Card, Select, Space, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState, type HTMLAttributes } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';

import type { LedgerEntryOut, LedgerLineOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { formatTime, yuan } from '../../format';
import { ENTRY_KINDS, useLedger, type EntryKind } from '../../queries/wallet';
import { ACCOUNTS_PATH, EntryKindTag, refText, SignedAmount } from './walletShared';

/** The lines (分录) of one entry: which account moved by how much. */
function EntryLines({ entry }: { entry: LedgerEntryOut }) {
  const { t } = useTranslation();
  const columns: ColumnsType<LedgerLineOut> = [
    {
      title: t('wallet.account'),
      dataIndex: 'account_kind',
      render: (kind: LedgerLineOut['account_kind'], line) => (
        <span>
          {t(`wallet.accountKinds.${kind}`)}
          <Typography.Text type="secondary"> #{line.account_id}</Typography.Text>
        </span>
      ),
    },
    {
      title: t('wallet.userId'),
      dataIndex: 'user_id',
      width: 120,
      render: (id: number | null) => (id === null ? '—' : <Link to={`${ACCOUNTS_PATH}/${id}`}>#{id}</Link>),
    },
    { title: t('wallet.amount'), dataIndex: 'amount', width: 150, align: 'right', render: (v: string) => <SignedAmount value={v} /> },
    {
      title: t('wallet.balanceAfter'),
      dataIndex: 'balance_after',
      width: 150,
      align: 'right',
      render: (v: string | null) => <span className="kameng-amount">{yuan(v)}</span>,
    },
  ];
  return (
    <Table<LedgerLineOut>
      rowKey="account_id"
      size="small"
      dataSource={entry.lines}
      columns={columns}
      pagination={false}
      className="kameng-lines"
      data-testid={`entry-lines-${entry.id}`}
    />
  );
}

/** 财务 › 账本: journal entries newest first, each with its lines; filter by kind, "load more". */
export function LedgerPage() {
  const { t } = useTranslation();
  const [kind, setKind] = useState<EntryKind | undefined>();
  const [collapsed, setCollapsed] = useState<ReadonlySet<number>>(new Set());
  const ledger = useLedger(kind);
  const rows = ledger.data?.pages.flatMap((p) => p.items) ?? [];

  const columns: ColumnsType<LedgerEntryOut> = [
    { title: t('wallet.entry'), dataIndex: 'id', width: 100, render: (id: number) => `#${id}` },
    { title: t('wallet.time'), dataIndex: 'created_at', width: 180, render: formatTime },
    { title: t('wallet.kind'), dataIndex: 'kind', width: 90, render: (k: EntryKind) => <EntryKindTag kind={k} /> },
    { title: t('wallet.memo'), dataIndex: 'memo', ellipsis: true, render: (memo: string) => memo || '—' },
    {
      title: t('wallet.ref'),
      key: 'ref',
      width: 200,
      ellipsis: true,
      render: (_, e) => refText(t, e.ref_type, e.ref_id) || '—',
    },
    {
      title: t('wallet.actor'),
      dataIndex: 'actor_id',
      width: 100,
      render: (id: number | null) => (id === null ? t('wallet.system') : `#${id}`),
    },
  ];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead title={t('wallet.ledgerTitle')} subtitle={t('wallet.ledgerSubtitle')} />
      <Card className="kameng-card">
        <Space direction="vertical" size={16} style={{ width: '100%' }}>
          <Select<EntryKind | undefined>
            allowClear
            value={kind}
            onChange={setKind}
            placeholder={t('wallet.allKinds')}
            options={ENTRY_KINDS.map((k) => ({ value: k, label: t(`wallet.kinds.${k}`) }))}
            style={{ width: 180 }}
            data-testid="ledger-kind"
          />
          <Table<LedgerEntryOut>
            rowKey="id"
            size="middle"
            loading={ledger.isPending || (ledger.isFetching && !ledger.isFetchingNextPage)}
            dataSource={rows}
            columns={columns}
            pagination={false}
            scroll={{ x: 900 }}
            expandable={{
              expandedRowRender: (entry) => <EntryLines entry={entry} />,
              expandedRowKeys: rows.filter((e) => !collapsed.has(e.id)).map((e) => e.id),
              onExpand: (open, e) => {
                const next = new Set(collapsed);
                if (open) next.delete(e.id);
                else next.add(e.id);
                setCollapsed(next);
              },
            }}
            onRow={(e) => ({ 'data-testid': `entry-row-${e.id}` }) as HTMLAttributes<HTMLElement>}
            locale={{ emptyText: t('wallet.noEntries') }}
            data-testid="ledger-table"
          />
          {ledger.hasNextPage && (
            <div className="kameng-load-more">
              <Button onClick={() => void ledger.fetchNextPage()} loading={ledger.isFetchingNextPage} data-testid="ledger-load-more">
                {t('wallet.loadMore')}
              </Button>
            </div>
          )}
        </Space>
      </Card>
    </Space>
  );
}
