import {
  ApiOutlined,
  BarChartOutlined,
  DashboardOutlined,
  SettingOutlined,
  ShoppingCartOutlined,
  ShopOutlined,
  TeamOutlined,
} from '@ant-design/icons';
import type { ComponentType, ReactNode } from 'react';
import { Navigate, type RouteObject } from 'react-router';

import type { Permission } from './auth/permissions';
import type { Messages } from './i18n/locales/zh-CN';
import { AppLayout } from './layout/AppLayout';
import { ComingSoonPage } from './pages/ComingSoonPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { RouteErrorPage } from './pages/RouteErrorPage';
import { SystemHealthPage } from './pages/settings/SystemHealthPage';

/** A key under `menu.*` in the message catalogues; also the menu item's key. */
export type ModuleKey = keyof Messages['menu'];

/**
 * One entry of the console's route table. The sider menu, the breadcrumb and the router
 * are all built from `appRoutes`, so a module is added in one place.
 */
export interface AppRoute {
  key: ModuleKey;
  /** absolute path */
  path: string;
  icon?: ReactNode;
  /** backend permission needed to see the entry (checked with `can()`); none = everyone */
  permission?: Permission;
  /** the page; a module without one shows "coming soon" */
  Page?: ComponentType;
  /** sub-pages; the module's own path then redirects to the first one */
  children?: AppRoute[];
}

export const HOME_PATH = '/settings/system';

export const appRoutes: AppRoute[] = [
  { key: 'orders', path: '/orders', icon: <ShoppingCartOutlined />, permission: 'orders:read' },
  { key: 'catalog', path: '/catalog', icon: <ShopOutlined />, permission: 'catalog:read' },
  { key: 'users', path: '/users', icon: <TeamOutlined />, permission: 'rbac:read' },
  { key: 'reports', path: '/reports', icon: <BarChartOutlined />, permission: 'reports:read' },
  { key: 'suppliers', path: '/suppliers', icon: <ApiOutlined />, permission: 'suppliers:read' },
  {
    key: 'settings',
    path: '/settings',
    icon: <SettingOutlined />,
    children: [
      {
        key: 'system',
        path: '/settings/system',
        icon: <DashboardOutlined />,
        permission: 'system:read',
        Page: SystemHealthPage,
      },
    ],
  },
];

/** The chain of route-table entries leading to `pathname` (for breadcrumb and menu state). */
export function findRouteTrail(pathname: string, routes: AppRoute[] = appRoutes): AppRoute[] {
  for (const route of routes) {
    const inside = pathname === route.path || pathname.startsWith(`${route.path}/`);
    if (!inside) continue;
    const below = route.children ? findRouteTrail(pathname, route.children) : [];
    return [route, ...below];
  }
  return [];
}

function toRouteObjects(routes: AppRoute[]): RouteObject[] {
  return routes.flatMap((route): RouteObject[] => {
    const first = route.children?.[0];
    if (route.children && first) {
      return [
        { path: route.path, element: <Navigate to={first.path} replace /> },
        ...toRouteObjects(route.children),
      ];
    }
    const Page = route.Page;
    return [
      {
        path: route.path,
        // route guards by permission plug in here (see auth/permissions.ts)
        element: Page ? <Page /> : <ComingSoonPage module={route.key} />,
      },
    ];
  });
}

export function buildRoutes(): RouteObject[] {
  return [
    {
      path: '/',
      element: <AppLayout />,
      errorElement: <RouteErrorPage />,
      children: [
        { index: true, element: <Navigate to={HOME_PATH} replace /> },
        ...toRouteObjects(appRoutes),
        { path: '*', element: <NotFoundPage /> },
      ],
    },
  ];
}
