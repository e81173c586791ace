import { Alert, Button, Descriptions, Modal, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';

import type { ResellerKeyOut } from '../../client';

/** A secret shown once (a new key's app id + secret, or a webhook secret): copy buttons, a clear
 * warning, and no way to see it again once closed. */
export function SecretOnceModal({
  open,
  title,
  appId,
  secret,
  note,
  onClose,
}: {
  open: boolean;
  title: string;
  appId?: string;
  secret: string;
  note?: string;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  return (
    <Modal
      open={open}
      title={title}
      onCancel={onClose}
      maskClosable={false}
      destroyOnHidden
      width={640}
      footer={
        <Button type="primary" onClick={onClose} data-testid="secret-done">
          {t('reseller.secretSaved')}
        </Button>
      }
    >
      <Alert type="warning" showIcon message={t('reseller.secretOnce')} description={t('reseller.secretOnceHint')} style={{ marginBottom: 16 }} data-testid="secret-once-warning" />
      {note && <Alert type="info" showIcon message={note} style={{ marginBottom: 16 }} data-testid="secret-note" />}
      <Descriptions column={1} bordered size="small">
        {appId && (
          <Descriptions.Item label="App ID">
            <Typography.Text code copyable={{ text: appId }} data-testid="secret-app-id">
              {appId}
            </Typography.Text>
          </Descriptions.Item>
        )}
        <Descriptions.Item label={t('reseller.secret')}>
          <Typography.Text code copyable={{ text: secret }} className="kameng-break" data-testid="secret-value">
            {secret}
          </Typography.Text>
        </Descriptions.Item>
      </Descriptions>
    </Modal>
  );
}

const KEY_STATUS_COLOR: Record<ResellerKeyOut['status'], string> = { active: 'success', rotated: 'warning', expired: 'default', revoked: 'error' };

export function KeyStatusTag({ status }: { status: ResellerKeyOut['status'] }) {
  const { t } = useTranslation();
  return (
    <Tag color={KEY_STATUS_COLOR[status]} data-testid="key-status">
      {t(`reseller.keyStatus.${status}`)}
    </Tag>
  );
}
