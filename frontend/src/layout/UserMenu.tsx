import { DownOutlined, LogoutOutlined, UserOutlined } from '@ant-design/icons';
import { Avatar, Button, Dropdown, type MenuProps } from 'antd';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';

import { signOut } from '../auth/session';
import { useCan, useMe } from '../queries/me';
import { menuTestId, personalRoutes } from '../routeTable';

const LOGOUT = 'logout';

/** The signed-in user in the header: their own pages (我的余额, 我的安全) and 退出登录. */
export function UserMenu() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const me = useMe().data;
  const can = useCan();
  if (!me) return null;

  const items = [
    ...personalRoutes.filter((r) => can(r.permission)).map((r) => ({ key: r.path, icon: r.icon, label: t(`menu.${r.key}`), 'data-testid': `user-${menuTestId(r.key)}` })),
    { type: 'divider' },
    { key: LOGOUT, icon: <LogoutOutlined />, label: t('auth.logout'), danger: true, 'data-testid': 'logout' },
  ] as MenuProps['items'];

  return (
    <Dropdown
      trigger={['click']}
      menu={{
        items,
        onClick: ({ key }) => {
          if (key === LOGOUT) void signOut();
          else void navigate(key);
        },
      }}
    >
      <Button type="text" className="kameng-header-button" aria-label={t('header.userMenu')} data-testid="user-menu">
        <Avatar size={24} icon={<UserOutlined />} className="kameng-avatar" />
        <span className="kameng-user-name">{me.display_name || me.email}</span>
        <DownOutlined style={{ fontSize: 10 }} />
      </Button>
    </Dropdown>
  );
}
