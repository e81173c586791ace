import { DownloadOutlined } from '@ant-design/icons';
import { App, Button, Space, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import type { TFunction } from 'i18next';
import { useState, type HTMLAttributes } from 'react';
import { useTranslation } from 'react-i18next';

import type { StatementLineOut } from '../../client';
import { describeAnyError } from '../../errorMessages';
import { formatTime, signedYuan, yuan } from '../../format';
import { exportStatement, useStatement, type EntryKind, type ExportFormat, type WalletOwner } from '../../queries/wallet';

export const ACCOUNTS_PATH = '/finance/accounts';
export const LEDGER_PATH = '/finance/ledger';

const KIND_COLORS: Record<EntryKind, string> = {
  recharge: 'green',
  purchase: 'blue',
  refund: 'orange',
  adjustment: 'purple',
};

/** What an entry refers to: "订单 KM2026…", "用户 #7"; "" for nothing. */
export function refText(t: TFunction, refType: string | null, refId: string | null): string {
  if (!refType) return '';
  if (refType === 'order') return t('wallet.refOrder', { id: refId ?? '' });
  if (refType === 'user') return t('wallet.refUser', { id: refId ?? '' });
  if (refType === 'payment') return t('wallet.refPayment', { id: refId ?? '' });
  return `${refType} ${refId ?? ''}`.trim();
}

/** 充值 / 购买 / 退款 / 调账 */
export function EntryKindTag({ kind }: { kind: EntryKind }) {
  const { t } = useTranslation();
  return (
    <Tag color={KIND_COLORS[kind]} data-testid={`kind-${kind}`}>
      {t(`wallet.kinds.${kind}`)}
    </Tag>
  );
}

/** A signed movement: "+¥50.00" in green, "-¥12.50" in red. */
export function SignedAmount({ value, testid }: { value: string; testid?: string }) {
  const text = signedYuan(value);
  const tone = text.startsWith('+') ? 'is-credit' : text.startsWith('-') ? 'is-debit' : '';
  return (
    <span className={`kameng-amount ${tone}`} data-testid={testid}>
      {text}
    </span>
  );
}

/** 顾客 / 代理 / 员工 */
export function UserKindTag({ kind }: { kind: string }) {
  const { t } = useTranslation();
  const known = kind === 'customer' || kind === 'reseller' || kind === 'staff';
  const colors: Record<string, string> = { customer: 'blue', reseller: 'gold', staff: 'default' };
  return <Tag color={colors[kind]}>{known ? t(`wallet.userKinds.${kind}`) : kind || '—'}</Tag>;
}

/** 导出 CSV / 导出 Excel of a statement (the file comes through the authenticated client). */
export function StatementExport({ owner }: { owner: WalletOwner }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [busy, setBusy] = useState<ExportFormat | null>(null);

  const download = async (format: ExportFormat) => {
    setBusy(format);
    try {
      const name = await exportStatement(owner, format);
      void message.success(`${t('wallet.exported')}: ${name}`);
    } catch (e) {
      void message.error(describeAnyError(e, t));
    } finally {
      setBusy(null);
    }
  };

  return (
    <Space size={8}>
      {(['csv', 'xlsx'] as const).map((format) => (
        <Button
          key={format}
          size="small"
          icon={<DownloadOutlined />}
          loading={busy === format}
          disabled={busy !== null && busy !== format}
          onClick={() => void download(format)}
          data-testid={`export-${format}`}
        >
          {t(format === 'csv' ? 'wallet.exportCsv' : 'wallet.exportXlsx')}
        </Button>
      ))}
    </Space>
  );
}

/** 余额明细: one wallet's movements, newest first, "load more" (personal page and account detail). */
export function StatementTable({ owner }: { owner: WalletOwner }) {
  const { t } = useTranslation();
  const statement = useStatement(owner);
  const rows = statement.data?.pages.flatMap((p) => p.items) ?? [];

  const columns: ColumnsType<StatementLineOut> = [
    { title: t('wallet.time'), dataIndex: 'created_at', width: 180, render: formatTime },
    { title: t('wallet.kind'), dataIndex: 'kind', width: 90, render: (kind: EntryKind) => <EntryKindTag kind={kind} /> },
    {
      title: t('wallet.amount'),
      dataIndex: 'amount',
      width: 140,
      align: 'right',
      render: (v: string, line) => <SignedAmount value={v} testid={`amount-${line.id}`} />,
    },
    {
      title: t('wallet.balanceAfter'),
      dataIndex: 'balance_after',
      width: 140,
      align: 'right',
      render: (v: string) => <span className="kameng-amount">{yuan(v)}</span>,
    },
    {
      title: t('wallet.memo'),
      dataIndex: 'memo',
      render: (memo: string, line) => (
        <div className="kameng-user-cell">
          <Typography.Text ellipsis={{ tooltip: memo }}>{memo || '—'}</Typography.Text>
          <Typography.Text type="secondary" className="kameng-note">
            {t('wallet.entryNo', { id: line.entry_id })}
            {line.ref_type && line.ref_type !== 'user' ? ` · ${refText(t, line.ref_type, line.ref_id)}` : ''}
          </Typography.Text>
        </div>
      ),
    },
  ];

  return (
    <>
      <Table<StatementLineOut>
        rowKey="id"
        size="middle"
        loading={statement.isPending || (statement.isFetching && !statement.isFetchingNextPage)}
        dataSource={rows}
        columns={columns}
        pagination={false}
        scroll={{ x: 760 }}
        onRow={(line) => ({ 'data-testid': `statement-row-${line.id}` }) as HTMLAttributes<HTMLElement>}
        locale={{ emptyText: t('wallet.noLines') }}
        data-testid="statement-table"
      />
      {statement.hasNextPage && (
        <div className="kameng-load-more">
          <Button onClick={() => void statement.fetchNextPage()} loading={statement.isFetchingNextPage} data-testid="statement-load-more">
            {t('wallet.loadMore')}
          </Button>
        </div>
      )}
    </>
  );
}
