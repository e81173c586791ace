import { ClockCircleOutlined } from '@ant-design/icons';
import { Card, Result } from 'antd';
import { useTranslation } from 'react-i18next';

import type { ModuleKey } from '../routeTable';

/** A module that is not built yet (shown only to users holding its read permission). */
export function ComingSoonPage({ module }: { module: ModuleKey }) {
  const { t } = useTranslation();
  return (
    <Card variant="borderless" className="kameng-card" data-testid="coming-soon">
      <Result
        icon={<ClockCircleOutlined style={{ color: '#1677ff' }} />}
        title={t('comingSoon.title', { module: t(`menu.${module}`) })}
        subTitle={t('comingSoon.subtitle')}
      />
    </Card>
  );
}
