import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { SystemInfo } from '../../client';
import { jsonResponse, pathOf, renderApp, stubApi } from '../../test/render';

const info: SystemInfo = {
  name: 'kameng',
  version: '0.1.0',
  environment: 'development',
  server_time: '2026-11-23T08:00:30Z',
  database: { ok: true, latency_ms: 3.62, error: null },
  redis: { ok: false, latency_ms: null, error: 'ConnectionError' },
  worker: { ok: true, last_seen: '2026-11-23T08:00:27Z' },
  outbox: { pending: 3, failed: 1, oldest_pending_age_s: 125.4 },
};

describe('系统状态 page', () => {
  it('shows the figures and a green or red tag per component from system:info', async () => {
    const fetch = stubApi((request) => (pathOf(request) === '/api/v1/system/info' ? jsonResponse(info) : undefined));

    renderApp('/settings/system');

    expect(await screen.findByTestId('system-version')).toHaveTextContent('kameng 0.1.0');
    expect(screen.getByTestId('system-environment')).toHaveTextContent('开发环境');
    expect(screen.getByTestId('system-server-time')).toHaveAttribute('title', info.server_time);

    const database = screen.getByTestId('status-database');
    expect(database).toHaveTextContent('正常');
    expect(database).toHaveClass('ant-tag-success');
    const redis = screen.getByTestId('status-redis');
    expect(redis).toHaveTextContent('异常');
    expect(redis).toHaveClass('ant-tag-error');
    expect(screen.getByTestId('status-worker')).toHaveClass('ant-tag-success');

    expect(within(screen.getByTestId('component-database')).getByText('3.6 ms')).toBeInTheDocument();
    expect(within(screen.getByTestId('component-redis')).getByText(/ConnectionError/)).toBeInTheDocument();
    expect(within(screen.getByTestId('component-worker')).getByText('3 秒前')).toBeInTheDocument();
    expect(screen.getByTestId('health-summary')).toHaveTextContent('以下组件异常：Redis');

    const outbox = screen.getByTestId('outbox');
    expect(within(outbox).getByTestId('outbox-pending')).toHaveTextContent('3');
    expect(within(outbox).getByTestId('outbox-failed')).toHaveTextContent('1');
    expect(within(outbox).getByTestId('outbox-oldest')).toHaveTextContent('2 分 5 秒');

    // the page went through the generated client: same origin, cookies included, signed in
    const request = fetch.calls.find((r) => pathOf(r) === '/api/v1/system/info');
    if (!request) throw new Error('the page did not ask for system:info');
    expect(new URL(request.url).origin).toBe(window.location.origin);
    expect(request.credentials).toBe('include');
    expect(request.headers.get('authorization')).toBe('Bearer access-1');
  });

  it('says so when the database is down and the backlog cannot be read', async () => {
    stubApi((request) =>
      pathOf(request) === '/api/v1/system/info'
        ? jsonResponse({
            ...info,
            database: { ok: false, latency_ms: null, error: 'OSError' },
            redis: { ok: true, latency_ms: 1.1, error: null },
            worker: { ok: false, last_seen: null },
            outbox: null,
          })
        : undefined,
    );

    renderApp('/settings/system');

    expect(await screen.findByTestId('status-database')).toHaveClass('ant-tag-error');
    expect(screen.getByTestId('status-redis')).toHaveClass('ant-tag-success');
    expect(screen.getByTestId('status-worker')).toHaveClass('ant-tag-error');
    expect(screen.getByText('从未上报')).toBeInTheDocument();
    expect(screen.getByText('数据库不可用，无法读取积压情况')).toBeInTheDocument();
  });

  it('shows the problem when system:info fails', async () => {
    stubApi((request) =>
      pathOf(request) === '/api/v1/system/info'
        ? jsonResponse(
            { type: 'about:blank', title: 'Internal error', status: 500, code: 'internal_error', detail: 'boom', request_id: 'r-1' },
            { status: 500, headers: { 'content-type': 'application/problem+json' } },
          )
        : undefined,
    );

    renderApp('/settings/system');

    expect(await screen.findByText('无法获取系统状态')).toBeInTheDocument();
    expect(screen.getByText('Internal error: boom')).toBeInTheDocument();
    // the global onError put up an antd message with the request id
    expect(await screen.findByText(/请求失败: boom \(请求编号: r-1\)/)).toBeInTheDocument();
  });
});
