import { BellOutlined } from '@ant-design/icons';
import { Badge, Button, Empty, List, Popover, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';

import { formatTime, localizedText } from '../format';
import { SECURITY_PATH } from '../paths';
import { useNotices, useReadNotice } from '../queries/me';

/** Unread security notices (e.g. a sign-in from a new device) behind a bell with a count. */
export function NoticeBell() {
  const { t, i18n } = useTranslation();
  const english = i18n.resolvedLanguage === 'en';
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const notices = useNotices({ poll: true });
  const read = useReadNotice();
  const unread = (notices.data ?? []).filter((n) => !n.read_at);

  const content = (
    <div className="kameng-notice-pop">
      {unread.length === 0 ? (
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('header.noNotices')} />
      ) : (
        <List
          size="small"
          dataSource={unread.slice(0, 5)}
          renderItem={(n) => (
            <List.Item
              actions={[
                <Button key="read" size="small" type="link" onClick={() => read.mutate(n.id)}>
                  {t('header.markRead')}
                </Button>,
              ]}
            >
              <List.Item.Meta
                title={localizedText(n.title, english)}
                description={<Typography.Text type="secondary">{formatTime(n.created_at)}</Typography.Text>}
              />
            </List.Item>
          )}
        />
      )}
      <Button
        type="link"
        block
        onClick={() => {
          setOpen(false);
          void navigate(`${SECURITY_PATH}#notices`);
        }}
      >
        {t('header.allNotices')}
      </Button>
    </div>
  );

  return (
    <Popover content={content} title={t('header.notices')} trigger="click" open={open} onOpenChange={setOpen} placement="bottomRight">
      <Button type="text" className="kameng-header-button" aria-label={t('header.notices')} data-testid="notice-bell">
        <Badge count={unread.length} size="small" offset={[2, -2]}>
          <BellOutlined style={{ color: 'rgba(255,255,255,0.85)', fontSize: 16 }} />
        </Badge>
      </Button>
    </Popover>
  );
}
