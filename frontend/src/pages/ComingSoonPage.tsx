import { ClockCircleOutlined } from '@ant-design/icons';
import { Button, Card, Result } from 'antd';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';

import { HOME_PATH, type ModuleKey } from '../routes';

export function ComingSoonPage({ module }: { module: ModuleKey }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  return (
    <Card variant="borderless" className="kameng-card">
      <Result
        icon={<ClockCircleOutlined style={{ color: '#1677ff' }} />}
        title={t('comingSoon.title', { module: t(`menu.${module}`) })}
        subTitle={t('comingSoon.subtitle')}
        extra={
          <Button type="primary" onClick={() => void navigate(HOME_PATH)}>
            {t('comingSoon.goHealth')}
          </Button>
        }
      />
    </Card>
  );
}
