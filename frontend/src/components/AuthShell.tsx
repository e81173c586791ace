import { Card, Typography } from 'antd';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

import { LanguageSwitch } from '../layout/LanguageSwitch';

/** The frame of the pages outside the console: sign-in and the forced first steps. */
export function AuthShell(props: { title: ReactNode; subtitle?: ReactNode; width?: number; extra?: ReactNode; children: ReactNode }) {
  const { t } = useTranslation();
  const { title, subtitle, width = 420, extra, children } = props;
  return (
    <div className="kameng-auth">
      <header className="kameng-auth-top">
        <span className="kameng-brand">
          <span className="kameng-logo" aria-hidden>
            卡
          </span>
          <span className="kameng-brand-name">{t('app.name')}</span>
        </span>
        <div className="kameng-header-actions">
          {extra}
          <LanguageSwitch />
        </div>
      </header>
      <main className="kameng-auth-body">
        <Card className="kameng-card kameng-auth-card" style={{ width, maxWidth: '100%' }}>
          <div className="kameng-auth-head">
            <Typography.Title level={3} style={{ margin: 0 }}>
              {title}
            </Typography.Title>
            {subtitle && <Typography.Text type="secondary">{subtitle}</Typography.Text>}
          </div>
          {children}
        </Card>
      </main>
      <footer className="kameng-footer">{t('app.footer')}</footer>
    </div>
  );
}
