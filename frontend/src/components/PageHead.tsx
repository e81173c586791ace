import { Typography } from 'antd';
import type { ReactNode } from 'react';

/** Title, one line of explanation and the page's main buttons. */
export function PageHead({ title, subtitle, extra }: { title: ReactNode; subtitle?: ReactNode; extra?: ReactNode }) {
  return (
    <div className="kameng-page-head">
      <div>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {title}
        </Typography.Title>
        {subtitle && <Typography.Text type="secondary">{subtitle}</Typography.Text>}
      </div>
      {extra && <div className="kameng-page-actions">{extra}</div>}
    </div>
  );
}
