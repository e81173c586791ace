/**
 * The console's route table: what the sider menu, the user menu, the breadcrumb, the landing
 * page and the router are built from. It sits below both the layout (layout/AppLayout.tsx,
 * layout/UserMenu.tsx) and the router (routes.tsx), which import it; it imports neither, and
 * its pages only lazily.
 */
import {
  AccountBookOutlined,
  ApartmentOutlined,
  ApiOutlined,
  AppstoreOutlined,
  AuditOutlined,
  BarChartOutlined,
  BookOutlined,
  CloudServerOutlined,
  CodeOutlined,
  HistoryOutlined,
  KeyOutlined,
  NotificationOutlined,
  DashboardOutlined,
  DatabaseOutlined,
  IdcardOutlined,
  ImportOutlined,
  LoginOutlined,
  ReconciliationOutlined,
  SafetyCertificateOutlined,
  SettingOutlined,
  ProfileOutlined,
  ShoppingCartOutlined,
  ShoppingOutlined,
  ShopOutlined,
  SyncOutlined,
  UnorderedListOutlined,
  TeamOutlined,
  UserOutlined,
  WalletOutlined,
} from '@ant-design/icons';
import { lazy, type ComponentType, type ReactNode } from 'react';

import { RESELLER_KIND, type Permission } from './auth/permissions';
import type { Messages } from './i18n/locales/zh-CN';
import {
  ADMIN_ORDERS_PATH,
  ADMIN_RESELLER_CALLBACKS_PATH,
  MY_ORDERS_PATH,
  MY_WALLET_PATH,
  RESELLER_CALLBACK_LOG_PATH,
  RESELLER_CALLBACK_PATH,
  RESELLER_KEYS_PATH,
  RESELLER_SIGNING_PATH,
  SECURITY_PATH,
  SHOP_PATH,
  SUPPLIER_RECON_PATH,
  SUPPLIER_SYNC_PATH,
  SUPPLIERS_PATH,
} from './paths';

/** A page loaded on first use (its own chunk), e.g. `lazyPage(() => import('./x'), 'XPage')`. */
function lazyPage<K extends string>(load: () => Promise<Record<K, () => ReactNode>>, name: K): ComponentType {
  return lazy(async () => {
    const page: () => ReactNode = (await load())[name];
    return { default: page };
  });
}

const SecurityPage = lazyPage(() => import('./pages/account/SecurityPage'), 'SecurityPage');
const SystemHealthPage = lazyPage(() => import('./pages/settings/SystemHealthPage'), 'SystemHealthPage');
const AuditLogPage = lazyPage(() => import('./pages/users/AuditLogPage'), 'AuditLogPage');
const LoginLogPage = lazyPage(() => import('./pages/users/LoginLogPage'), 'LoginLogPage');
const CategoriesPage = lazyPage(() => import('./pages/catalog/CategoriesPage'), 'CategoriesPage');
const ProductsPage = lazyPage(() => import('./pages/catalog/ProductsPage'), 'ProductsPage');
const ProductEditorPage = lazyPage(() => import('./pages/catalog/ProductEditorPage'), 'ProductEditorPage');
const InventoryPage = lazyPage(() => import('./pages/inventory/InventoryPage'), 'InventoryPage');
const InventoryProductPage = lazyPage(() => import('./pages/inventory/InventoryProductPage'), 'InventoryProductPage');
const InventoryImportPage = lazyPage(() => import('./pages/inventory/InventoryImportPage'), 'InventoryImportPage');
const MyWalletPage = lazyPage(() => import('./pages/wallet/MyWalletPage'), 'MyWalletPage');
const WalletAccountsPage = lazyPage(() => import('./pages/wallet/WalletAccountsPage'), 'WalletAccountsPage');
const WalletAccountPage = lazyPage(() => import('./pages/wallet/WalletAccountPage'), 'WalletAccountPage');
const LedgerPage = lazyPage(() => import('./pages/wallet/LedgerPage'), 'LedgerPage');
const TrialBalancePage = lazyPage(() => import('./pages/wallet/TrialBalancePage'), 'TrialBalancePage');
const ShopPage = lazyPage(() => import('./pages/shop/ShopPage'), 'ShopPage');
const ShopProductPage = lazyPage(() => import('./pages/shop/ShopProductPage'), 'ShopProductPage');
const MyOrdersPage = lazyPage(() => import('./pages/orders/MyOrdersPage'), 'MyOrdersPage');
const MyOrderPage = lazyPage(() => import('./pages/orders/MyOrderPage'), 'MyOrderPage');
const AdminOrdersPage = lazyPage(() => import('./pages/orders/AdminOrdersPage'), 'AdminOrdersPage');
const AdminOrderPage = lazyPage(() => import('./pages/orders/AdminOrderPage'), 'AdminOrderPage');
const RolesPage = lazyPage(() => import('./pages/users/RolesPage'), 'RolesPage');
const StaffPage = lazyPage(() => import('./pages/users/UsersPage'), 'StaffPage');
const CustomersPage = lazyPage(() => import('./pages/users/UsersPage'), 'CustomersPage');
const ResellerKeysPage = lazyPage(() => import('./pages/reseller/ResellerKeysPage'), 'ResellerKeysPage');
const ResellerCallbackPage = lazyPage(() => import('./pages/reseller/ResellerCallbackPage'), 'ResellerCallbackPage');
const ResellerCallbackLogPage = lazyPage(() => import('./pages/reseller/CallbackLogPage'), 'ResellerCallbackLogPage');
const AdminCallbackLogPage = lazyPage(() => import('./pages/reseller/CallbackLogPage'), 'AdminCallbackLogPage');
const SigningPlaygroundPage = lazyPage(() => import('./pages/reseller/SigningPlaygroundPage'), 'SigningPlaygroundPage');
const SuppliersPage = lazyPage(() => import('./pages/suppliers/SuppliersPage'), 'SuppliersPage');
const SupplierSyncPage = lazyPage(() => import('./pages/suppliers/SupplierSyncPage'), 'SupplierSyncPage');
const SupplierReconPage = lazyPage(() => import('./pages/suppliers/SupplierReconPage'), 'SupplierReconPage');

/** A key under `menu.*` in the message catalogues; also the menu item's key. */
export type ModuleKey = keyof Messages['menu'];

/**
 * One entry of the console's route table. The sider menu, the breadcrumb, the landing page
 * and the router are all built from `appRoutes`, so a module is added in one place.
 */
export interface AppRoute {
  key: ModuleKey;
  /** absolute path */
  path: string;
  icon?: ReactNode;
  /** backend permission needed to see the entry and open the page; none = everyone signed in */
  permission?: Permission;
  /** the page; a module without one shows "coming soon" */
  Page?: ComponentType;
  /** sub-pages; the module's own path then redirects to the first one the user may open */
  children?: AppRoute[];
  /** a page of the console that is reached elsewhere (the user menu), not from the sider */
  hideInMenu?: boolean;
  /** one of the user's own pages (我的余额, 我的安全): in the user menu, and in the sider of
   * users who may open no module (customers, resellers) */
  personal?: boolean;
}

export const appRoutes: AppRoute[] = [
  {
    key: 'orders',
    path: '/orders',
    icon: <ShoppingCartOutlined />,
    children: [
      { key: 'orderList', path: ADMIN_ORDERS_PATH, icon: <UnorderedListOutlined />, permission: 'orders:read', Page: AdminOrdersPage },
      {
        key: 'orderDetail',
        path: `${ADMIN_ORDERS_PATH}/:orderNo`,
        permission: 'orders:read',
        Page: AdminOrderPage,
        hideInMenu: true,
      },
      {
        key: 'resellerCallbacksAdmin',
        path: ADMIN_RESELLER_CALLBACKS_PATH,
        icon: <NotificationOutlined />,
        permission: 'resellers:callbacks',
        Page: AdminCallbackLogPage,
      },
    ],
  },
  {
    key: 'catalog',
    path: '/catalog',
    icon: <ShopOutlined />,
    children: [
      { key: 'products', path: '/catalog/products', icon: <AppstoreOutlined />, permission: 'catalog:read', Page: ProductsPage },
      {
        key: 'productNew',
        path: '/catalog/products/new',
        permission: 'catalog:write',
        Page: ProductEditorPage,
        hideInMenu: true,
      },
      {
        key: 'productEdit',
        path: '/catalog/products/:id',
        permission: 'catalog:read',
        Page: ProductEditorPage,
        hideInMenu: true,
      },
      { key: 'categories', path: '/catalog/categories', icon: <ApartmentOutlined />, permission: 'catalog:read', Page: CategoriesPage },
      { key: 'inventory', path: '/catalog/inventory', icon: <DatabaseOutlined />, permission: 'inventory:read', Page: InventoryPage },
      {
        key: 'inventoryProduct',
        path: '/catalog/inventory/:productId',
        permission: 'inventory:read',
        Page: InventoryProductPage,
        hideInMenu: true,
      },
      {
        key: 'inventoryImport',
        path: '/catalog/inventory-import',
        icon: <ImportOutlined />,
        permission: 'inventory:import',
        Page: InventoryImportPage,
      },
    ],
  },
  {
    key: 'finance',
    path: '/finance',
    icon: <AccountBookOutlined />,
    children: [
      { key: 'walletAccounts', path: '/finance/accounts', icon: <WalletOutlined />, permission: 'wallet:read', Page: WalletAccountsPage },
      {
        key: 'walletAccount',
        path: '/finance/accounts/:userId',
        permission: 'wallet:read',
        Page: WalletAccountPage,
        hideInMenu: true,
      },
      { key: 'ledger', path: '/finance/ledger', icon: <BookOutlined />, permission: 'wallet:read', Page: LedgerPage },
      {
        key: 'trialBalance',
        path: '/finance/trial-balance',
        icon: <ReconciliationOutlined />,
        permission: 'wallet:reconcile',
        Page: TrialBalancePage,
      },
    ],
  },
  {
    key: 'users',
    path: '/users',
    icon: <TeamOutlined />,
    children: [
      { key: 'staff', path: '/users/staff', icon: <IdcardOutlined />, permission: 'users:read', Page: StaffPage },
      { key: 'customers', path: '/users/customers', icon: <UserOutlined />, permission: 'users:read', Page: CustomersPage },
      { key: 'roles', path: '/users/roles', icon: <SafetyCertificateOutlined />, permission: 'roles:read', Page: RolesPage },
      { key: 'auditLog', path: '/users/audit-log', icon: <AuditOutlined />, permission: 'audit:read', Page: AuditLogPage },
      { key: 'loginLog', path: '/users/login-log', icon: <LoginOutlined />, permission: 'users:login_log', Page: LoginLogPage },
    ],
  },
  { key: 'reports', path: '/reports', icon: <BarChartOutlined />, permission: 'reports:read' },
  {
    key: 'suppliers',
    path: '/suppliers',
    icon: <ApiOutlined />,
    children: [
      { key: 'supplierList', path: SUPPLIERS_PATH, icon: <CloudServerOutlined />, permission: 'suppliers:read', Page: SuppliersPage },
      { key: 'supplierSync', path: SUPPLIER_SYNC_PATH, icon: <SyncOutlined />, permission: 'suppliers:read', Page: SupplierSyncPage },
      { key: 'supplierRecon', path: SUPPLIER_RECON_PATH, icon: <ReconciliationOutlined />, permission: 'suppliers:read', Page: SupplierReconPage },
    ],
  },
  {
    key: 'settings',
    path: '/settings',
    icon: <SettingOutlined />,
    children: [
      {
        key: 'system',
        path: '/settings/system',
        icon: <DashboardOutlined />,
        permission: 'settings:read',
        Page: SystemHealthPage,
      },
    ],
  },
  { key: 'shop', path: SHOP_PATH, icon: <ShoppingOutlined />, Page: ShopPage, hideInMenu: true, personal: true },
  { key: 'shopProduct', path: `${SHOP_PATH}/:productId`, Page: ShopProductPage, hideInMenu: true },
  { key: 'myOrders', path: MY_ORDERS_PATH, icon: <ProfileOutlined />, Page: MyOrdersPage, hideInMenu: true, personal: true },
  { key: 'myOrder', path: `${MY_ORDERS_PATH}/:orderNo`, Page: MyOrderPage, hideInMenu: true },
  { key: 'myWallet', path: MY_WALLET_PATH, icon: <WalletOutlined />, Page: MyWalletPage, hideInMenu: true, personal: true },
  { key: 'security', path: SECURITY_PATH, icon: <SafetyCertificateOutlined />, Page: SecurityPage, hideInMenu: true, personal: true },
  // 我的对接: a reseller's open-API keys, callbacks and the signing playground
  { key: 'resellerKeys', path: RESELLER_KEYS_PATH, icon: <KeyOutlined />, permission: RESELLER_KIND, Page: ResellerKeysPage, hideInMenu: true, personal: true },
  {
    key: 'resellerCallback',
    path: RESELLER_CALLBACK_PATH,
    icon: <NotificationOutlined />,
    permission: RESELLER_KIND,
    Page: ResellerCallbackPage,
    hideInMenu: true,
    personal: true,
  },
  {
    key: 'resellerCallbackLog',
    path: RESELLER_CALLBACK_LOG_PATH,
    icon: <HistoryOutlined />,
    permission: RESELLER_KIND,
    Page: ResellerCallbackLogPage,
    hideInMenu: true,
    personal: true,
  },
  {
    key: 'resellerSigning',
    path: RESELLER_SIGNING_PATH,
    icon: <CodeOutlined />,
    permission: RESELLER_KIND,
    Page: SigningPlaygroundPage,
    hideInMenu: true,
    personal: true,
  },
];

/** The user's own pages (商城, 我的订单, 我的余额, 我的安全, and a reseller's 我的对接), in the
 * order the user menu lists them; filter them with `allowed` (the reseller's need kind reseller). */
export const personalRoutes: AppRoute[] = appRoutes.filter((r) => r.personal);

/** The entries `allowed` lets the user see in the menu: a module without any child disappears. */
export function visibleRoutes(routes: AppRoute[], allowed: (permission?: Permission) => boolean): AppRoute[] {
  return routes
    .filter((r) => !r.hideInMenu && allowed(r.permission))
    .map((r) => (r.children ? { ...r, children: visibleRoutes(r.children, allowed) } : r))
    .filter((r) => !r.children || r.children.length > 0);
}

/** The sider's entries: the modules the user may use; a user who may use none (a customer, a
 * reseller) gets their own pages instead of an empty menu. */
export function menuRoutes(routes: AppRoute[], allowed: (permission?: Permission) => boolean): AppRoute[] {
  const modules = visibleRoutes(routes, allowed);
  return modules.length > 0 ? modules : routes.filter((r) => r.personal && allowed(r.permission));
}

/** The first page of the menu the user may open (where they land after signing in). */
export function firstAllowedPath(routes: AppRoute[], allowed: (permission?: Permission) => boolean): string | null {
  for (const route of visibleRoutes(routes, allowed)) {
    if (!route.children) return route.path;
    const inner = firstAllowedPath(route.children, allowed);
    if (inner) return inner;
  }
  return null;
}

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

/** "inventoryImport" → "menu-inventory-import" (the menu entry's test id). */
export function menuTestId(key: string): string {
  return `menu-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
