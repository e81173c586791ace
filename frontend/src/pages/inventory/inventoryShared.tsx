import { Button, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import type { HTMLAttributes, ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

import type { ImportOut, ImportTarget } from '../../client';
import { formatTime, yuan } from '../../format';
import { useMe } from '../../queries/me';
import { useImports, type ImportFilters, type ImportStatus } from '../../queries/inventory';

export const INVENTORY_PATH = '/catalog/inventory';
export const IMPORT_PATH = '/catalog/inventory-import';

/** The problem kinds of an import report, in the order the report shows them. */
export const PROBLEM_KINDS = ['empty', 'malformed', 'too_long', 'bad_cost', 'duplicate_in_file', 'in_stock'] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export function isProblemKind(kind: string): kind is ProblemKind {
  return (PROBLEM_KINDS as readonly string[]).includes(kind);
}

const STATUS_COLORS: Record<ImportStatus, string> = {
  validating: 'processing',
  validated: 'blue',
  queued: 'processing',
  imported: 'success',
  failed: 'error',
  discarded: 'default',
  voided: 'default',
};

export function ImportStatusTag({ status }: { status: ImportStatus }) {
  const { t } = useTranslation();
  return (
    <Tag color={STATUS_COLORS[status]} data-testid={`import-status-${status}`}>
      {t(`inventory.statuses.${status}`)}
    </Tag>
  );
}

/** SKU id → "商品 / 规格", from the import targets. */
export function skuLabels(targets: ImportTarget[] | undefined): Map<number, string> {
  const names = new Map<number, string>();
  for (const p of targets ?? []) {
    for (const s of p.skus) names.set(s.id, `${p.product_name} / ${s.name}`);
  }
  return names;
}

/**
 * Import batches (newest first, "load more"): the wizard's history and a product's 批次 tab.
 * `actions` renders the last column; `skuNames` adds a 商品 / 规格 column.
 */
export function ImportsTable({
  filters,
  skuNames,
  actions,
  emptyText,
  testid,
}: {
  filters: ImportFilters;
  skuNames?: Map<number, string>;
  actions?: (batch: ImportOut) => ReactNode;
  emptyText: string;
  testid: string;
}) {
  const { t } = useTranslation();
  const me = useMe();
  const imports = useImports(filters);
  const rows = imports.data?.pages.flatMap((p) => p.items) ?? [];

  const columns: ColumnsType<ImportOut> = [
    { title: t('inventory.batchId'), dataIndex: 'id', width: 90, render: (id: number) => `#${id}` },
    ...(skuNames
      ? [{ title: t('inventory.sku'), dataIndex: 'sku_id', render: (id: number) => skuNames.get(id) ?? `#${id}` }]
      : []),
    { title: t('inventory.status'), dataIndex: 'status', width: 100, render: (s: ImportStatus) => <ImportStatusTag status={s} /> },
    {
      title: t('inventory.source'),
      key: 'source',
      render: (_, b) => (
        <Typography.Text ellipsis style={{ maxWidth: 200 }} title={b.filename ?? undefined}>
          {b.filename ?? t('inventory.pasted')}
        </Typography.Text>
      ),
    },
    { title: t('inventory.lines'), dataIndex: 'total_lines', width: 90, align: 'right' },
    { title: t('inventory.valid'), dataIndex: 'valid_count', width: 80, align: 'right' },
    { title: t('inventory.importedCount'), dataIndex: 'imported_count', width: 90, align: 'right' },
    { title: t('inventory.voided'), dataIndex: 'voided_count', width: 90, align: 'right' },
    { title: t('inventory.costTotal'), dataIndex: 'cost_total', width: 110, align: 'right', render: (v: string) => yuan(v) },
    {
      title: t('inventory.createdBy'),
      dataIndex: 'created_by',
      width: 160,
      ellipsis: true,
      render: (id: number | null, b: ImportOut) =>
        id === null ? '—' : id === me.data?.id ? t('inventory.me') : (b.created_by_name ?? `#${id}`),
    },
    { title: t('inventory.batchCreatedAt'), dataIndex: 'created_at', width: 170, render: formatTime },
    { title: t('inventory.importedAt'), dataIndex: 'imported_at', width: 170, render: formatTime },
    ...(actions ? [{ title: t('inventory.actions'), key: 'actions', width: 110, fixed: 'right' as const, render: (_: unknown, b: ImportOut) => actions(b) }] : []),
  ];

  return (
    <>
      <Table<ImportOut>
        rowKey="id"
        size="middle"
        loading={imports.isPending || (imports.isFetching && !imports.isFetchingNextPage)}
        dataSource={rows}
        columns={columns}
        pagination={false}
        scroll={{ x: 1280 }}
        onRow={(b) => ({ 'data-testid': `import-row-${b.id}` }) as HTMLAttributes<HTMLElement>}
        locale={{ emptyText }}
        data-testid={testid}
      />
      {imports.hasNextPage && (
        <div className="kameng-load-more">
          <Button onClick={() => void imports.fetchNextPage()} loading={imports.isFetchingNextPage} data-testid={`${testid}-load-more`}>
            {t('inventory.loadMore')}
          </Button>
        </div>
      )}
    </>
  );
}
