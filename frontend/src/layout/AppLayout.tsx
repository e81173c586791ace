import { Breadcrumb, Layout, Menu, type MenuProps } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Outlet, useLocation, useNavigate } from 'react-router';

import { StepUpModal } from '../auth/StepUpModal';
import { HOME_PATH } from '../paths';
import { useCan } from '../queries/me';
import { appRoutes, findRouteTrail, menuRoutes, menuTestId, type AppRoute } from '../routeTable';
import { LanguageSwitch } from './LanguageSwitch';
import { NoticeBell } from './NoticeBell';
import { UserMenu } from './UserMenu';

const { Header, Sider, Content, Footer } = Layout;

type MenuItem = Required<MenuProps>['items'][number];

export function AppLayout() {
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  const can = useCan();
  const [collapsed, setCollapsed] = useState(false);

  const routes = menuRoutes(appRoutes, can);
  const trail = findRouteTrail(location.pathname);
  const selected = trail.at(-1);
  const parents = trail.slice(0, -1).map((r) => r.path);

  const toItems = (list: AppRoute[]): MenuItem[] =>
    list.map((r) => {
      const common = { key: r.path, icon: r.icon, label: t(`menu.${r.key}`), 'data-testid': menuTestId(r.key) };
      return r.children ? { ...common, children: toItems(r.children) } : common;
    });

  // the module of the page shown is open; others stay as the user left them
  const [openKeys, setOpenKeys] = useState<string[]>(parents);
  const [openedFor, setOpenedFor] = useState(location.pathname);
  if (openedFor !== location.pathname) {
    setOpenedFor(location.pathname);
    const missing = parents.filter((p) => !openKeys.includes(p));
    if (missing.length > 0) setOpenKeys([...openKeys, ...missing]);
  }

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
          <NoticeBell />
          <LanguageSwitch />
          <UserMenu />
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
      <StepUpModal />
    </Layout>
  );
}
