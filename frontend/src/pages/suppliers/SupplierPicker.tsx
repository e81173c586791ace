import { Select } from 'antd';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';

import { useSuppliers } from '../../queries/suppliers';

/** The supplier a 商品同步 / 对账 page is about: `?supplier=` in the address, else the first one. */
export function useSupplierChoice(): [number | null, (id: number) => void] {
  const [search, setSearch] = useSearchParams();
  const suppliers = useSuppliers();
  const list = suppliers.data ?? [];
  const asked = Number(search.get('supplier'));
  const chosen = list.find((s) => s.id === asked)?.id ?? list[0]?.id ?? null;
  const choose = (id: number) =>
    setSearch((prev) => {
      const next = new URLSearchParams(prev);
      next.set('supplier', String(id));
      return next;
    });
  return [chosen, choose];
}

export function SupplierPicker({ value, onChange }: { value: number | null; onChange: (id: number) => void }) {
  const { t } = useTranslation();
  const suppliers = useSuppliers();
  const list = suppliers.data ?? [];
  return (
    <Select<number>
      style={{ minWidth: 200 }}
      loading={suppliers.isPending}
      value={value ?? undefined}
      placeholder={list.length === 0 && !suppliers.isPending ? t('supplierSync.noSuppliers') : t('supplierSync.pickSupplier')}
      onChange={onChange}
      options={list.map((s) => ({ value: s.id, label: s.name }))}
      data-testid="supplier-picker"
    />
  );
}
