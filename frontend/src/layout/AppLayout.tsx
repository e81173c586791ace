import { Breadcrumb, Layout, Menu, type MenuProps } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Outlet, useLocation, useNavigate } from 'react-router';

import { can } from '../auth/permissions';
import { appRoutes, findRouteTrail, HOME_PATH, type AppRoute } from '../routes';
import { LanguageSwitch } from './LanguageSwitch';

const { Header, Sider, Content, Footer } = Layout;

type MenuItem = Required<MenuProps>['items'][number];

function visible(routes: AppRoute[]): AppRoute[] {
  return routes
    .filter((r) => can(r.permission))
    .map((r) => (r.children ? { ...r, children: visible(r.children) } : r))
    .filter((r) => !r.children || r.children.length > 0);
}

export function AppLayout() {
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  const [collapsed, setCollapsed] = useState(false);

  const routes = visible(appRoutes);
  const trail = findRouteTrail(location.pathname, routes);
  const selected = trail.at(-1);

  const toItems = (list: AppRoute[]): MenuItem[] =>
    list.map((r) =>
      r.children
        ? { key: r.path, icon: r.icon, label: t(`menu.${r.key}`), children: toItems(r.children) }
        : { key: r.path, icon: r.icon, label: t(`menu.${r.key}`) },
    );

  const [openKeys, setOpenKeys] = useState<string[]>(() => trail.slice(0, -1).map((r) => r.path));

  return (
    <Layout className="kameng-shell">
      <Header className="kameng-header">
        <Link to={HOME_PATH} className="kameng-brand">
          <span className="kameng-logo" aria-hidden>
            卡
          </span>
          <span className="kameng-brand-name">{t('app.name')}</span>
        </Link>
        <div className="kameng-header-actions">
          <LanguageSwitch />
        </div>
      </Header>
      <Layout>
        <Sider
          theme="light"
          width={216}
          collapsible
          collapsed={collapsed}
          onCollapse={setCollapsed}
          breakpoint="lg"
          className="kameng-sider"
        >
          <Menu
            mode="inline"
            data-testid="module-menu"
            items={toItems(routes)}
            selectedKeys={selected ? [selected.path] : []}
            {...(collapsed ? {} : { openKeys, onOpenChange: setOpenKeys })}
            onClick={({ key }) => void navigate(key)}
          />
        </Sider>
        <Layout className="kameng-main">
          <Breadcrumb
            className="kameng-breadcrumb"
            items={trail.map((r) => ({ key: r.path, title: t(`menu.${r.key}`) }))}
          />
          <Content className="kameng-content">
            <Outlet />
          </Content>
          <Footer className="kameng-footer">{t('app.footer')}</Footer>
        </Layout>
      </Layout>
    </Layout>
  );
}
