import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { CategoryIn, CategoryOut } from '../../client';
import { jsonResponse, pathOf, problemResponse, renderApp, stubApi } from '../../test/render';

const tree: CategoryOut[] = [
  {
    id: 1,
    parent_id: null,
    name: '游戏点卡',
    icon: '🎮',
    sort: 0,
    visible: true,
    product_count: 3,
    children: [{ id: 2, parent_id: 1, name: '王者荣耀', icon: '', sort: 0, visible: false, product_count: 3, children: [] }],
  },
];

describe('分类 page', () => {
  it('shows the tree, creates a sub-category and explains why a category cannot be deleted', async () => {
    const created: CategoryIn[] = [];
    stubApi(async (request) => {
      const path = pathOf(request);
      if (path === '/api/v1/catalog/categories' && request.method === 'GET') return jsonResponse(tree);
      if (path === '/api/v1/catalog/categories' && request.method === 'POST') {
        const body = (await request.json()) as CategoryIn;
        created.push(body);
        return jsonResponse({ id: 3, children: [], product_count: 0, ...body }, { status: 201 });
      }
      if (path === '/api/v1/catalog/categories/1' && request.method === 'DELETE') {
        return problemResponse(409, 'category_not_empty', { detail: 'The category still holds sub-categories or products.' });
      }
      return undefined;
    });
    renderApp('/catalog/categories');
    const table = await screen.findByTestId('category-table');
    expect(await within(table).findByText('王者荣耀')).toBeInTheDocument();
    expect(within(screen.getByTestId('category-row-2')).getByText('隐藏')).toBeInTheDocument();

    fireEvent.click(screen.getByTestId('add-sub-1'));
    expect(await screen.findByText('在「游戏点卡」下新建子分类')).toBeInTheDocument();
    fireEvent.change(screen.getByTestId('category-name'), { target: { value: '和平精英' } });
    fireEvent.click(screen.getByTestId('category-save'));
    await waitFor(() => expect(created).toEqual([{ name: '和平精英', icon: '', sort: 0, visible: true, parent_id: 1 }]));

    fireEvent.click(screen.getByTestId('delete-category-1'));
    fireEvent.click(await screen.findByTestId('delete-category-confirm'));
    expect(await screen.findByTestId('category-delete-error')).toHaveTextContent('该分类下还有子分类或商品，不能删除');
  }, 60_000);
});
