import { DownOutlined, LogoutOutlined, SafetyCertificateOutlined, UserOutlined } from '@ant-design/icons';
import { Avatar, Button, Dropdown, type MenuProps } from 'antd';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';

import { signOut } from '../auth/session';
import { SECURITY_PATH } from '../paths';
import { useMe } from '../queries/me';

/** The signed-in user in the header: 我的安全 and 退出登录. */
export function UserMenu() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const me = useMe().data;
  if (!me) return null;

  const items = [
    { key: 'security', icon: <SafetyCertificateOutlined />, label: t('menu.security'), 'data-testid': 'user-menu-security' },
    { type: 'divider' },
    { key: 'logout', icon: <LogoutOutlined />, label: t('auth.logout'), danger: true, 'data-testid': 'logout' },
  ] as MenuProps['items'];

  return (
    <Dropdown
      trigger={['click']}
      menu={{
        items,
        onClick: ({ key }) => {
          if (key === 'security') void navigate(SECURITY_PATH);
          if (key === 'logout') void signOut();
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
