import type { CategoryOut, SkuOut } from '../../client';

/** "98.0000" → "98.00", "9.9999" → "9.9999": for an input, without losing any digit that counts. */
export function priceInput(value: string | null | undefined): string {
  if (!value) return '';
  const [whole = '0', decimals = ''] = value.split('.');
  return `${whole}.${decimals.replace(/0+$/, '').padEnd(2, '0')}`;
}

/** "¥9.80 – ¥98.00" over the active SKUs' base prices. */
export function priceRange(skus: SkuOut[]): string {
  const prices = skus.filter((s) => s.active).map((s) => Number(s.base_price)).filter(Number.isFinite);
  if (prices.length === 0) return '—';
  const low = Math.min(...prices);
  const high = Math.max(...prices);
  return low === high ? `¥${low.toFixed(2)}` : `¥${low.toFixed(2)} – ¥${high.toFixed(2)}`;
}

/** Category id → "游戏点卡 / 王者荣耀". */
export function categoryNames(tree: CategoryOut[] | undefined): Map<number, string> {
  const names = new Map<number, string>();
  for (const top of tree ?? []) {
    names.set(top.id, top.name);
    for (const child of top.children ?? []) names.set(child.id, `${top.name} / ${child.name}`);
  }
  return names;
}

export interface CategoryTreeNode {
  value: number;
  title: string;
  children?: CategoryTreeNode[];
}

/** The tree for an antd TreeSelect. */
export function categoryTreeData(tree: CategoryOut[] | undefined): CategoryTreeNode[] {
  return (tree ?? []).map((top) => ({
    value: top.id,
    title: top.name,
    children: (top.children ?? []).map((c) => ({ value: c.id, title: c.name })),
  }));
}

export const DELIVERY_TYPES = ['card_key', 'direct_recharge', 'manual'] as const;
export const PRODUCT_STATUSES = ['listed', 'unlisted', 'scheduled'] as const;
