import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { ImportOut, ImportTarget } from '../../client';
import { jsonResponse, makeMe, pathOf, problemResponse, renderApp, stubApi } from '../../test/render';

const targets: ImportTarget[] = [
  {
    product_id: 2,
    product_name: '王者荣耀点券',
    looping_keys: false,
    skus: [
      { id: 21, name: '100 点券', available: 40 },
      { id: 22, name: '500 点券', available: 8 },
    ],
  },
];

function batch(overrides: Partial<ImportOut> = {}): ImportOut {
  return {
    id: 7,
    sku_id: 21,
    product_id: 2,
    status: 'validated',
    source: 'paste',
    filename: null,
    options: { format: 'card_secret', separator: ',', encoding: 'auto', has_header: false },
    default_cost: null,
    note: '',
    created_by: 1,
    created_at: '2026-11-23T08:00:00Z',
    total_lines: 6,
    valid_count: 3,
    problem_counts: { empty: 1, malformed: 0, duplicate_in_file: 1, in_stock: 1 },
    samples: [
      { line: 3, kind: 'empty', preview: '' },
      { line: 4, kind: 'duplicate_in_file', preview: 'C1,****AAA1' },
      { line: 6, kind: 'in_stock', preview: 'C9,****ZZZ9' },
    ],
    validated_at: '2026-11-23T08:00:01Z',
    confirmed_by: null,
    confirmed_at: null,
    imported_at: null,
    imported_count: 0,
    cost_total: '0',
    voided_at: null,
    voided_count: 0,
    error_code: null,
    error_detail: null,
    progress: null,
    ...overrides,
  };
}

const PASTED = 'C1,AAAA-AAA1\nC2,BBBB-BBB2\n\nC1,AAAA-AAA1\nC3,CCCC-CCC3\nC9,ZZZZ-ZZZ9';

describe('卡密导入 wizard', () => {
  it('uploads pasted keys, shows the report with a tag per problem kind, confirms and follows the job to the end', async () => {
    const uploads: Record<string, string>[] = [];
    let state: 'new' | 'queued' | 'imported' = 'new';
    let polls = 0;
    stubApi(async (request) => {
      const path = pathOf(request);
      if (path === '/api/v1/inventory/targets') return jsonResponse(targets);
      if (path === '/api/v1/inventory/imports' && request.method === 'POST') {
        const form = await request.formData();
        uploads.push(Object.fromEntries([...form.entries()].map(([k, v]) => [k, typeof v === 'string' ? v : `file:${v.name}`])));
        // the first try has a bad separator: the server's sentence is shown, nothing is lost
        if (uploads.length === 1) return problemResponse(422, 'bad_separator', { detail: '分隔符须为 1–8 个字符 (separator: 1-8 characters)' });
        return jsonResponse(batch(), { status: 201 });
      }
      if (path === '/api/v1/inventory/imports/7/confirm') {
        state = 'queued';
        return jsonResponse(batch({ status: 'queued', confirmed_at: '2026-11-23T08:00:05Z', progress: { done: 0, total: 3 } }));
      }
      if (path === '/api/v1/inventory/imports/7') {
        if (state === 'queued') {
          polls += 1;
          if (polls >= 2) state = 'imported';
          return jsonResponse(batch({ status: 'queued', progress: { done: 2, total: 3 } }));
        }
        if (state === 'imported') return jsonResponse(batch({ status: 'imported', imported_count: 3, cost_total: '0', imported_at: '2026-11-23T08:00:07Z' }));
        return jsonResponse(batch());
      }
      if (path === '/api/v1/inventory/imports') return jsonResponse({ items: [], next_before_id: null });
      return undefined;
    });

    renderApp('/catalog/inventory-import?sku_id=21');
    // the SKU of the link is picked already
    const form = await screen.findByTestId('import-form');
    expect(within(form).getByText('王者荣耀点券')).toBeInTheDocument();
    expect(within(form).getByText('100 点券（可用 40）')).toBeInTheDocument();
    fireEvent.change(screen.getByTestId('import-text'), { target: { value: PASTED } });
    fireEvent.click(screen.getByTestId('import-submit'));
    expect(await screen.findByTestId('import-error')).toHaveTextContent('分隔符须为 1–8 个字符');

    fireEvent.click(screen.getByTestId('import-submit'));
    const report = await screen.findByTestId('import-report');
    // (multipart sends line breaks as CRLF; the server splits on either)
    const text = PASTED.replace(/\n/g, '\r\n');
    expect(uploads[1]).toEqual({ sku_id: '21', format: 'card_secret', separator: ',', encoding: 'auto', has_header: 'false', note: '', text });
    expect(within(report).getByTestId('import-summary')).toHaveTextContent('王者荣耀点券 / 100 点券');
    expect(within(report).getByTestId('report-total')).toHaveTextContent('6');
    expect(within(report).getByTestId('report-valid')).toHaveTextContent('3');
    expect(within(report).getByTestId('report-problems')).toHaveTextContent('3');
    expect(within(report).getByTestId('problem-empty')).toHaveTextContent('空行 1');
    expect(within(report).getByTestId('problem-duplicate_in_file')).toHaveTextContent('文件内重复 1');
    expect(within(report).getByTestId('problem-in_stock')).toHaveTextContent('已在库存 1');
    expect(within(report).queryByTestId('problem-malformed')).not.toBeInTheDocument();
    const samples = within(report).getByTestId('report-samples');
    expect(within(samples).getByText('C1,****AAA1')).toBeInTheDocument();
    expect(within(samples).getAllByRole('row')).toHaveLength(4); // header + 3 lines

    fireEvent.click(screen.getByTestId('import-confirm'));
    // queued: a progress bar fed by polling
    expect(await screen.findByTestId('import-progress')).toBeInTheDocument();
    expect(await screen.findByText('正在导入 2 / 3')).toBeInTheDocument();
    const done = await screen.findByTestId('import-done', {}, { timeout: 30_000 });
    expect(done).toHaveTextContent('已将 3 条卡密导入「王者荣耀点券 / 100 点券」');
    expect(within(done).getByTestId('go-inventory').closest('a')).toHaveAttribute('href', '/catalog/inventory/2?sku_id=21');
  }, 60_000);

  it('a key uploader (inventory:import only) uses the wizard and sees 我的导入 without catalog access', async () => {
    const listed: string[] = [];
    stubApi(
      (request) => {
        const url = new URL(request.url);
        if (url.pathname === '/api/v1/inventory/targets') return jsonResponse(targets);
        if (url.pathname === '/api/v1/inventory/imports' && request.method === 'GET') {
          listed.push(url.search);
          return jsonResponse({
            items: [batch({ id: 9, status: 'imported', imported_count: 3, filename: 'keys.csv', source: 'csv' }), batch({ id: 8, valid_count: 0 })],
            next_before_id: null,
          });
        }
        if (url.pathname === '/api/v1/inventory/imports/8') return jsonResponse(batch({ id: 8, valid_count: 0 }));
        return undefined;
      },
      { me: makeMe({ roles: ['key_uploader'], permissions: ['inventory:import'] }) },
    );
    renderApp('/catalog/inventory-import');
    expect(await screen.findByTestId('import-form')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId('tab-history'));
    expect(screen.getByTestId('tab-history')).toHaveTextContent('我的导入');
    const row = await screen.findByTestId('import-row-9');
    expect(row).toHaveTextContent('王者荣耀点券 / 100 点券');
    expect(row).toHaveTextContent('keys.csv');
    expect(row).toHaveTextContent('已导入');
    expect(row).toHaveTextContent('我');
    expect(listed[0]).toContain('limit=');

    // a draft is resumed at its report; nothing valid: confirming is not possible
    fireEvent.click(screen.getByTestId('resume-8'));
    expect(await screen.findByTestId('nothing-valid')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('import-confirm')).toBeDisabled());
  }, 60_000);
});
