import { Button, Card, Result } from 'antd';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';

import { HOME_PATH } from '../paths';

/** 403: the signed-in user lacks the permission a page needs. */
export function ForbiddenPage({ permission }: { permission: string }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  return (
    <Card variant="borderless" className="kameng-card" data-testid="forbidden">
      <Result
        status="403"
        title={t('forbidden.title')}
        subTitle={t('forbidden.subtitle', { permission })}
        extra={
          <Button type="primary" onClick={() => void navigate(HOME_PATH)}>
            {t('forbidden.goHome')}
          </Button>
        }
      />
    </Card>
  );
}
