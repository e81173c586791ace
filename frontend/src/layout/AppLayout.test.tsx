import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import i18n, { LANGUAGE_STORAGE_KEY } from '../i18n';
import { jsonResponse, pathOf, renderApp, stubApi } from '../test/render';

const info = {
  name: 'kameng',
  version: '0.1.0',
  environment: 'development',
  server_time: '2026-11-23T08:00:30Z',
  database: { ok: true, latency_ms: 1, error: null },
  redis: { ok: true, latency_ms: 1, error: null },
  worker: { ok: true, last_seen: '2026-11-23T08:00:29Z' },
  outbox: { pending: 0, failed: 0, oldest_pending_age_s: null },
};

describe('console layout', () => {
  afterEach(async () => {
    await i18n.changeLanguage('zh-CN');
  });

  it('switching the language to English changes the menu labels and is remembered', async () => {
    stubApi((request) => (pathOf(request) === '/api/v1/system/info' ? jsonResponse(info) : undefined));

    renderApp('/settings/system');
    const menu = await screen.findByTestId('module-menu');
    for (const label of ['交易', '商品与库存', '用户与权限', '报表', '上游', '设置', '系统状态']) {
      expect(within(menu).getByText(label)).toBeInTheDocument();
    }
    expect(screen.getByText('kameng 卡盟后台')).toBeInTheDocument();

    fireEvent.click(screen.getByTestId('language-switch'));
    const dropdown = await waitFor(() => {
      const element = document.querySelector<HTMLElement>('.ant-dropdown-menu');
      if (!element) throw new Error('the language menu did not open');
      return element;
    });
    fireEvent.click(within(dropdown).getByText('English'));

    for (const label of ['Orders', 'Catalog & inventory', 'Users & roles', 'Reports', 'Suppliers', 'Settings', 'System health']) {
      expect(await within(menu).findByText(label)).toBeInTheDocument();
    }
    expect(within(menu).queryByText('交易')).not.toBeInTheDocument();
    expect(screen.getByTestId('status-database')).toHaveTextContent('Healthy');
    expect(localStorage.getItem(LANGUAGE_STORAGE_KEY)).toBe('en');
    expect(document.documentElement.lang).toBe('en');
  });

  it('shows a coming-soon page for a module that is not built yet', async () => {
    stubApi((request) => (pathOf(request) === '/api/v1/system/info' ? jsonResponse(info) : undefined));

    const { router } = renderApp('/settings/system');
    fireEvent.click(within(await screen.findByTestId('module-menu')).getByText('报表'));

    expect(router.state.location.pathname).toBe('/reports');
    expect(await screen.findByText('「报表」即将上线')).toBeInTheDocument();
  });
});
