import {
  BellOutlined,
  KeyOutlined,
  LaptopOutlined,
  LockOutlined,
  SafetyCertificateOutlined,
  UserOutlined,
} from '@ant-design/icons';
import { useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  App,
  Badge,
  Button,
  Card,
  Col,
  Descriptions,
  Form,
  Input,
  List,
  Modal,
  Popconfirm,
  Row,
  Space,
  Table,
  Tag,
  Typography,
} from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

import type { LoginEventOut, NoticeOut, SessionOut } from '../../client';
import { ChangePasswordForm } from '../../components/ChangePasswordForm';
import { PageHead } from '../../components/PageHead';
import { RecoveryCodes } from '../../components/RecoveryCodes';
import { TotpEnrollment } from '../../components/TotpEnrollment';
import { describeAnyError } from '../../errorMessages';
import { describeDevice, formatTime, localizedText } from '../../format';
import {
  meGetQueryKey,
  useDisable2fa,
  useMe,
  useMyLoginEvents,
  useMySessions,
  useNotices,
  useReadNotice,
  useRegenerateRecoveryCodes,
  useRevokeSession,
} from '../../queries/me';
import { LoginResultTag } from '../users/LoginLogPage';

function TwoFactorCard() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const me = useMe().data;
  const [enrolling, setEnrolling] = useState(false);
  const [disabling, setDisabling] = useState(false);
  const [newCodes, setNewCodes] = useState<string[] | null>(null);
  const [disableError, setDisableError] = useState<string | null>(null);
  const disable = useDisable2fa();
  const regenerate = useRegenerateRecoveryCodes();
  if (!me) return null;

  return (
    <Card
      className="kameng-card"
      title={
        <Space>
          <SafetyCertificateOutlined />
          {t('security.twoFactor')}
        </Space>
      }
      extra={
        <Tag color={me.mfa_enabled ? 'success' : 'default'} data-testid="security-2fa-status">
          {me.mfa_enabled ? t('security.twoFactorOn') : t('security.twoFactorOff')}
        </Tag>
      }
    >
      <Typography.Paragraph type="secondary">
        {me.mfa_enabled ? t('security.twoFactorOnHint') : t('security.twoFactorOffHint')}
      </Typography.Paragraph>
      {me.mfa_enabled ? (
        <Space wrap>
          <Popconfirm
            title={t('security.regenerateConfirm')}
            onConfirm={() => regenerate.mutate(undefined, { onSuccess: (out) => setNewCodes(out.recovery_codes) })}
          >
            <Button icon={<KeyOutlined />} loading={regenerate.isPending} data-testid="regenerate-recovery-codes">
              {t('security.regenerate')}
            </Button>
          </Popconfirm>
          <Button danger onClick={() => setDisabling(true)} data-testid="disable-2fa">
            {t('security.disable')}
          </Button>
        </Space>
      ) : (
        <Button type="primary" onClick={() => setEnrolling(true)} data-testid="enable-2fa">
          {t('security.enable')}
        </Button>
      )}

      <Modal
        open={enrolling}
        title={t('twoFactor.enrollTitle')}
        footer={null}
        width={640}
        destroyOnHidden
        maskClosable={false}
        onCancel={() => setEnrolling(false)}
      >
        <TotpEnrollment
          onDone={() => {
            setEnrolling(false);
            void message.success(t('twoFactor.enabled'));
            void queryClient.invalidateQueries({ queryKey: meGetQueryKey() });
          }}
        />
      </Modal>

      <Modal
        open={newCodes !== null}
        title={t('security.newCodes')}
        footer={null}
        closable={false}
        maskClosable={false}
        destroyOnHidden
      >
        {newCodes && <RecoveryCodes codes={newCodes} onDone={() => setNewCodes(null)} />}
      </Modal>

      <Modal
        open={disabling}
        title={t('security.disable')}
        okText={t('security.disable')}
        okButtonProps={{ danger: true, loading: disable.isPending, htmlType: 'submit', form: 'disable-2fa-form' }}
        onCancel={() => {
          setDisabling(false);
          setDisableError(null);
        }}
        destroyOnHidden
      >
        <Typography.Paragraph>{t('security.disableHint')}</Typography.Paragraph>
        <Form
          id="disable-2fa-form"
          requiredMark={false}
          onFinish={(values: { code: string }) => {
            setDisableError(null);
            disable.mutate(values.code.trim(), {
              onSuccess: () => {
                setDisabling(false);
                void message.success(t('security.disabled'));
              },
              onError: (e) => setDisableError(describeAnyError(e, t)),
            });
          }}
        >
          <Form.Item name="code" rules={[{ required: true, pattern: /^\s*\d{6}\s*$/, message: t('auth.codeRequired') }]}>
            <Input placeholder={t('auth.codePlaceholder')} maxLength={6} inputMode="numeric" className="kameng-code-input" />
          </Form.Item>
        </Form>
        {disableError && <Alert type="error" showIcon message={disableError} />}
      </Modal>
    </Card>
  );
}

function SessionsCard() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const sessions = useMySessions();
  const revoke = useRevokeSession();
  return (
    <Card
      className="kameng-card"
      title={
        <Space>
          <LaptopOutlined />
          {t('security.sessions')}
        </Space>
      }
    >
      <Typography.Paragraph type="secondary">{t('security.sessionsHint')}</Typography.Paragraph>
      <Table<SessionOut>
        rowKey="id"
        size="small"
        loading={sessions.isPending}
        dataSource={sessions.data ?? []}
        pagination={false}
        scroll={{ x: 720 }}
        data-testid="sessions-table"
        columns={[
          {
            title: t('security.device'),
            key: 'device',
            render: (_, s) => (
              <Space>
                <span title={s.user_agent ?? ''}>{describeDevice(s.user_agent)}</span>
                {s.current && (
                  <Tag color="blue" data-testid="session-current">
                    {t('security.current')}
                  </Tag>
                )}
              </Space>
            ),
          },
          { title: t('security.ip'), dataIndex: 'ip', render: (ip: string | null) => ip ?? '—' },
          { title: t('security.signedInAt'), dataIndex: 'created_at', render: formatTime },
          { title: t('security.lastActive'), dataIndex: 'last_used_at', render: formatTime },
          { title: t('security.expiresAt'), dataIndex: 'expires_at', render: formatTime },
          {
            title: '',
            key: 'actions',
            align: 'right',
            render: (_, s) =>
              s.current ? null : (
                <Popconfirm
                  title={t('security.revokeConfirm')}
                  onConfirm={() => revoke.mutate(s.id, { onSuccess: () => void message.success(t('security.revoked')) })}
                >
                  <Button size="small" danger>
                    {t('security.revoke')}
                  </Button>
                </Popconfirm>
              ),
          },
        ]}
      />
    </Card>
  );
}

function LoginEventsCard() {
  const { t } = useTranslation();
  const events = useMyLoginEvents();
  const rows = events.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Card className="kameng-card" title={t('security.loginEvents')}>
      <Table<LoginEventOut>
        rowKey="id"
        size="small"
        loading={events.isPending}
        dataSource={rows}
        pagination={false}
        scroll={{ x: 640 }}
        data-testid="my-login-events"
        columns={[
          { title: t('loginLog.time'), dataIndex: 'at', render: formatTime },
          { title: t('loginLog.ip'), dataIndex: 'ip', render: (ip: string | null) => ip ?? '—' },
          { title: t('loginLog.device'), dataIndex: 'user_agent', render: (ua: string | null) => describeDevice(ua) },
          {
            title: t('loginLog.result'),
            key: 'result',
            render: (_, e) => <LoginResultTag result={e.result} newDevice={e.new_device} />,
          },
        ]}
      />
      {events.hasNextPage && (
        <div className="kameng-load-more">
          <Button onClick={() => void events.fetchNextPage()} loading={events.isFetchingNextPage}>
            {t('security.loadMore')}
          </Button>
        </div>
      )}
    </Card>
  );
}

function NoticesCard() {
  const { t, i18n } = useTranslation();
  const english = i18n.resolvedLanguage === 'en';
  const notices = useNotices();
  const read = useReadNotice();
  const unread = (notices.data ?? []).filter((n) => !n.read_at);
  return (
    <Card
      id="notices"
      className="kameng-card"
      title={
        <Space>
          <BellOutlined />
          {t('security.notices')}
          {unread.length > 0 && <Badge count={unread.length} />}
        </Space>
      }
      extra={
        unread.length > 0 && (
          <Button size="small" onClick={() => unread.forEach((n) => read.mutate(n.id))} data-testid="notices-read-all">
            {t('security.markAllRead')}
          </Button>
        )
      }
    >
      <List<NoticeOut>
        loading={notices.isPending}
        dataSource={notices.data ?? []}
        locale={{ emptyText: t('security.noticesEmpty') }}
        data-testid="notices-list"
        renderItem={(n) => (
          <List.Item
            actions={
              n.read_at
                ? []
                : [
                    <Button key="read" size="small" type="link" onClick={() => read.mutate(n.id)}>
                      {t('header.markRead')}
                    </Button>,
                  ]
            }
          >
            <List.Item.Meta
              title={
                <Space>
                  {!n.read_at && <Badge status="processing" />}
                  <span>{localizedText(n.title, english)}</span>
                  {!n.read_at && <Tag color="blue">{t('security.unread')}</Tag>}
                </Space>
              }
              description={
                <>
                  <div className="kameng-notice-body">{n.body}</div>
                  <Typography.Text type="secondary">{formatTime(n.created_at)}</Typography.Text>
                </>
              }
            />
          </List.Item>
        )}
      />
    </Card>
  );
}

/** 我的安全: own password, 2FA, sessions, sign-in history and security notices. */
export function SecurityPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const me = useMe().data;
  if (!me) return null;
  const staff = me.kind === 'staff';
  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }} data-testid="security-page">
      <PageHead title={t('security.title')} subtitle={t('security.subtitle')} />
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={12}>
          <Space direction="vertical" size={16} style={{ width: '100%' }}>
            <Card
              className="kameng-card"
              title={
                <Space>
                  <UserOutlined />
                  {t('security.account')}
                </Space>
              }
            >
              <Descriptions column={1} size="small">
                <Descriptions.Item label={t('security.name')}>{me.display_name}</Descriptions.Item>
                <Descriptions.Item label={t('security.email')}>{me.email ?? '—'}</Descriptions.Item>
                {me.phone && <Descriptions.Item label={t('security.phone')}>{me.phone}</Descriptions.Item>}
                <Descriptions.Item label={t('security.roles')}>
                  {me.roles.length > 0 ? me.roles.map((r) => <Tag key={r}>{r}</Tag>) : t('security.noRoles')}
                </Descriptions.Item>
              </Descriptions>
            </Card>
            <TwoFactorCard />
          </Space>
        </Col>
        <Col xs={24} xl={12}>
          <Card
            className="kameng-card"
            title={
              <Space>
                <LockOutlined />
                {t('security.changePassword')}
              </Space>
            }
          >
            <ChangePasswordForm staff={staff} onDone={() => void message.success(t('password.changed'))} />
          </Card>
        </Col>
      </Row>
      <SessionsCard />
      <NoticesCard />
      <LoginEventsCard />
    </Space>
  );
}
