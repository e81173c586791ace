import { CheckCircleOutlined, CopyOutlined, EditOutlined, LogoutOutlined, PlusOutlined, StopOutlined } from '@ant-design/icons';
import {
  Alert,
  App,
  Button,
  Card,
  Form,
  Input,
  Modal,
  Popconfirm,
  Segmented,
  Select,
  Space,
  Table,
  Tag,
  Typography,
} from 'antd';
import type { ColumnsType } from 'antd/es/table';
import type { TFunction } from 'i18next';
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

import { ApiError, toApiError } from '../../api';
import type { RoleOut, StaffCreatedOut, UserKind, UserOut } from '../../client';
import { copyText } from '../../components/RecoveryCodes';
import { PageHead } from '../../components/PageHead';
import { describeError, fieldName } from '../../errorMessages';
import { formatTime } from '../../format';
import { isSuperAdmin, useCan, useMe } from '../../queries/me';
import { useRoles } from '../../queries/roles';
import { useCreateStaff, useForceLogout, useSetUserRoles, useUpdateUser, useUsers, type UserFilters } from '../../queries/users';

/** Roles the signed-in user may hand out: only those whose permissions they hold themselves. */
export function useGrantableRole(): (role: RoleOut) => boolean {
  const me = useMe().data;
  return (role) => isSuperAdmin(me) || role.permissions.every((p) => me?.permissions.includes(p));
}

function RoleSelect({ roles, value, onChange, id }: { roles: RoleOut[]; value?: number[]; onChange?: (v: number[]) => void; id?: string }) {
  const { t } = useTranslation();
  const grantable = useGrantableRole();
  const held = new Set(value ?? []);
  return (
    <Select<number[]>
      id={id}
      mode="multiple"
      value={value}
      onChange={onChange}
      optionFilterProp="label"
      data-testid="role-select"
      options={roles.map((r) => ({
        value: r.id,
        label: r.name,
        // a role already held may stay; a new one needs every permission it carries
        disabled: !held.has(r.id) && !grantable(r),
        title: grantable(r) ? r.description : t('users.roleNotGrantable'),
      }))}
    />
  );
}

function TemporaryPassword({ created, onClose }: { created: StaffCreatedOut | null; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  return (
    <Modal
      open={created !== null}
      title={t('users.created')}
      onCancel={onClose}
      maskClosable={false}
      footer={
        <Button type="primary" onClick={onClose} data-testid="temporary-password-close">
          {t('twoFactor.done')}
        </Button>
      }
    >
      {created && (
        <Space direction="vertical" size={12} style={{ width: '100%' }}>
          <Typography.Text>
            {created.user.display_name} · {created.user.email}
          </Typography.Text>
          {created.temporary_password && (
            <>
              <Typography.Text type="secondary">{t('users.temporaryPassword')}</Typography.Text>
              <Space>
                <code className="kameng-secret" data-testid="temporary-password">
                  {created.temporary_password}
                </code>
                <Button
                  size="small"
                  icon={<CopyOutlined />}
                  onClick={() =>
                    void copyText(created.temporary_password ?? '').then((ok) =>
                      ok ? message.success(t('twoFactor.copied')) : message.warning(t('twoFactor.copyFailed')),
                    )
                  }
                >
                  {t('users.copy')}
                </Button>
              </Space>
              <Alert type="warning" showIcon message={t('users.temporaryPasswordHint')} />
            </>
          )}
        </Space>
      )}
    </Modal>
  );
}

interface CreateValues {
  email: string;
  display_name?: string;
  role_ids?: number[];
}

function CreateStaffModal({ open, onClose, roles }: { open: boolean; onClose: () => void; roles: RoleOut[] | null }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<CreateValues>();
  const create = useCreateStaff();
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<StaffCreatedOut | null>(null);

  const submit = (values: CreateValues) => {
    setError(null);
    create.mutate(
      { email: values.email.trim(), display_name: values.display_name?.trim() ?? '', role_ids: values.role_ids ?? [] },
      {
        onSuccess: (out) => {
          form.resetFields();
          onClose();
          setCreated(out);
        },
        onError: (e) => {
          const problem = e instanceof ApiError ? e : toApiError(e);
          if (problem.code === 'email_taken') form.setFields([{ name: 'email', errors: [describeError(problem, t)] }]);
          else if (problem.code === 'validation_failed' && problem.errors.length > 0) {
            const known: (keyof CreateValues)[] = ['email', 'display_name', 'role_ids'];
            form.setFields(
              problem.errors.map((f) => {
                const name = known.find((k) => k === fieldName(f.loc)) ?? 'email';
                return { name, errors: [f.msg] };
              }),
            );
          } else setError(describeError(problem, t));
        },
      },
    );
  };

  return (
    <>
      <Modal
        open={open}
        title={t('users.createTitle')}
        onCancel={onClose}
        okText={t('users.create')}
        okButtonProps={{ htmlType: 'submit', form: 'create-staff-form', loading: create.isPending, 'data-testid': 'create-staff-submit' }}
        destroyOnHidden
      >
        <Form id="create-staff-form" form={form} layout="vertical" requiredMark={false} onFinish={submit}>
          <Form.Item name="email" label={t('users.email')} rules={[{ required: true, type: 'email', message: t('users.emailRequired') }]}>
            <Input autoComplete="off" data-testid="staff-email" />
          </Form.Item>
          <Form.Item name="display_name" label={t('users.displayName')}>
            <Input placeholder={t('users.displayNamePlaceholder')} maxLength={64} data-testid="staff-name" />
          </Form.Item>
          {roles ? (
            <Form.Item name="role_ids" label={t('users.roles')} extra={t('users.rolesHint')}>
              <RoleSelect roles={roles} />
            </Form.Item>
          ) : (
            <Alert type="info" showIcon message={t('users.rolesNeedAssign')} style={{ marginBottom: 16 }} />
          )}
        </Form>
        {error && <Alert type="error" showIcon message={error} />}
      </Modal>
      <TemporaryPassword created={created} onClose={() => setCreated(null)} />
    </>
  );
}

interface EditValues {
  display_name: string;
  role_ids?: number[];
}

function EditStaffModal({ user, onClose, roles }: { user: UserOut | null; onClose: () => void; roles: RoleOut[] | null }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const can = useCan();
  const update = useUpdateUser();
  const setRoles = useSetUserRoles();
  const busy = update.isPending || setRoles.isPending;

  const submit = async (values: EditValues) => {
    if (!user) return;
    if (can('users:write') && values.display_name !== user.display_name) {
      await update.mutateAsync({ id: user.id, display_name: values.display_name });
    }
    const before = user.roles.map((r) => r.id).sort();
    const after = [...(values.role_ids ?? [])].sort();
    if (roles && can('roles:assign') && before.join(',') !== after.join(',')) {
      await setRoles.mutateAsync({ id: user.id, roleIds: after });
    }
    void message.success(t('users.saved'));
    onClose();
  };

  return (
    <Modal
      open={user !== null}
      title={t('users.editTitle')}
      onCancel={onClose}
      okButtonProps={{ htmlType: 'submit', form: 'edit-staff-form', loading: busy, 'data-testid': 'edit-staff-submit' }}
      destroyOnHidden
    >
      {user && (
        <Form<EditValues>
          id="edit-staff-form"
          layout="vertical"
          requiredMark={false}
          initialValues={{ display_name: user.display_name, role_ids: user.roles.map((r) => r.id) }}
          onFinish={(values) => void submit(values).catch(() => undefined)}
        >
          <Form.Item label={t('users.email')}>
            <Typography.Text>{user.email ?? user.phone}</Typography.Text>
          </Form.Item>
          <Form.Item name="display_name" label={t('users.displayName')} rules={[{ max: 64 }]}>
            <Input disabled={!can('users:write')} />
          </Form.Item>
          {roles && (
            <Form.Item name="role_ids" label={t('users.roles')} extra={can('roles:assign') ? t('users.rolesHint') : t('users.rolesNeedAssign')}>
              {can('roles:assign') ? <RoleSelect roles={roles} /> : <Select mode="multiple" disabled options={roles.map((r) => ({ value: r.id, label: r.name }))} />}
            </Form.Item>
          )}
        </Form>
      )}
    </Modal>
  );
}

function UserActions({ user, onEdit }: { user: UserOut; onEdit?: (u: UserOut) => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const can = useCan();
  const me = useMe().data;
  const update = useUpdateUser();
  const forceLogout = useForceLogout();
  const self = me?.id === user.id;
  const active = user.status === 'active';
  return (
    <Space size={4} wrap>
      {onEdit && (can('users:write') || can('roles:assign')) && (
        <Button size="small" type="link" icon={<EditOutlined />} onClick={() => onEdit(user)} data-testid={`edit-user-${user.id}`}>
          {t('users.edit')}
        </Button>
      )}
      {can('users:disable') && !self && (
        <Popconfirm
          title={active ? t('users.disableConfirm') : t('users.enableConfirm')}
          onConfirm={() =>
            update.mutate(
              { id: user.id, status: active ? 'disabled' : 'active' },
              { onSuccess: () => void message.success(active ? t('users.disabledDone') : t('users.enabledDone')) },
            )
          }
        >
          <Button size="small" type="link" danger={active} icon={active ? <StopOutlined /> : <CheckCircleOutlined />}>
            {active ? t('users.disable') : t('users.enable')}
          </Button>
        </Popconfirm>
      )}
      {can('users:force_logout') && !self && (
        <Popconfirm
          title={t('users.forceLogoutConfirm')}
          onConfirm={() =>
            forceLogout.mutate(user.id, {
              onSuccess: (out) => void message.success(t('users.forcedOut', { count: out.sessions_ended })),
            })
          }
        >
          <Button size="small" type="link" icon={<LogoutOutlined />}>
            {t('users.forceLogout')}
          </Button>
        </Popconfirm>
      )}
    </Space>
  );
}

function UsersTable(props: { filters: UserFilters; columns: ColumnsType<UserOut> }) {
  const { t } = useTranslation();
  const users = useUsers(props.filters);
  const rows = users.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Card className="kameng-card">
      <Table<UserOut>
        rowKey="id"
        loading={users.isPending || (users.isFetching && !users.isFetchingNextPage)}
        dataSource={rows}
        columns={props.columns}
        pagination={false}
        scroll={{ x: 1150 }}
        locale={{ emptyText: t('users.empty') }}
        data-testid="users-table"
      />
      {users.hasNextPage && (
        <div className="kameng-load-more">
          <Button onClick={() => void users.fetchNextPage()} loading={users.isFetchingNextPage}>
            {t('users.loadMore')}
          </Button>
        </div>
      )}
    </Card>
  );
}

function Filters(props: {
  children?: ReactNode;
  onSearch: (q: string) => void;
  status?: 'active' | 'disabled';
  onStatus: (s?: 'active' | 'disabled') => void;
}) {
  const { children, onSearch, status, onStatus } = props;
  const { t } = useTranslation();
  return (
    <Space wrap>
      {children}
      <Input.Search allowClear placeholder={t('users.search')} onSearch={(q) => onSearch(q.trim())} style={{ width: 260 }} data-testid="users-search" />
      <Select
        allowClear
        placeholder={t('users.allStatus')}
        value={status}
        onChange={(v?: 'active' | 'disabled') => onStatus(v)}
        style={{ width: 130 }}
        options={[
          { value: 'active', label: t('users.active') },
          { value: 'disabled', label: t('users.disabledStatus') },
        ]}
      />
    </Space>
  );
}

function userColumn(t: TFunction): ColumnsType<UserOut>[number] {
  return {
    title: t('users.user'),
    key: 'user',
    width: 240,
    render: (_, u) => (
      <div className="kameng-user-cell">
        <Typography.Text strong ellipsis>
          {u.display_name || '—'}
        </Typography.Text>
        <Typography.Text type="secondary" ellipsis={{ tooltip: u.email ?? u.phone }}>
          {u.email ?? u.phone ?? `#${u.id}`}
        </Typography.Text>
      </div>
    ),
  };
}

function statusColumn(t: TFunction): ColumnsType<UserOut>[number] {
  return {
    title: t('users.status'),
    dataIndex: 'status',
    width: 100,
    render: (status: string, u) => (
      <Space size={4} wrap>
        <Tag color={status === 'active' ? 'success' : 'default'}>{status === 'active' ? t('users.active') : t('users.disabledStatus')}</Tag>
        {u.must_change_password && <Tag color="warning">{t('users.mustChange')}</Tag>}
      </Space>
    ),
  };
}

/** 用户与权限 › 员工: staff accounts with their roles. */
export function StaffPage() {
  const { t } = useTranslation();
  const can = useCan();
  const [q, setQ] = useState('');
  const [status, setStatus] = useState<'active' | 'disabled'>();
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<UserOut | null>(null);
  const roles = useRoles({ enabled: can('roles:read') });
  const roleList = can('roles:read') && can('roles:assign') ? (roles.data ?? []) : null;
  const viewRoles = can('roles:read') ? (roles.data ?? []) : null;

  const columns: ColumnsType<UserOut> = [
    userColumn(t),
    {
      title: t('users.roles'),
      key: 'roles',
      render: (_, u) =>
        u.roles.length > 0 ? (
          <Space size={4} wrap>
            {u.roles.map((r) => (
              <Tag key={r.id} color={r.key === 'super_admin' ? 'gold' : 'blue'}>
                {r.name}
              </Tag>
            ))}
          </Space>
        ) : (
          <Typography.Text type="secondary">—</Typography.Text>
        ),
    },
    statusColumn(t),
    {
      title: t('users.twoFactor'),
      dataIndex: 'mfa_enabled',
      width: 100,
      render: (on: boolean) => <Tag color={on ? 'success' : 'default'}>{on ? t('users.on') : t('users.off')}</Tag>,
    },
    {
      title: t('users.lastLogin'),
      dataIndex: 'last_login_at',
      width: 180,
      render: (at: string | null) => (at ? formatTime(at) : <Typography.Text type="secondary">{t('users.never')}</Typography.Text>),
    },
    { title: t('users.createdAt'), dataIndex: 'created_at', width: 180, render: formatTime },
    {
      title: t('users.actions'),
      key: 'actions',
      width: 220,
      fixed: 'right',
      render: (_, u) => <UserActions user={u} onEdit={setEditing} />,
    },
  ];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('users.staffTitle')}
        subtitle={t('users.staffSubtitle')}
        extra={
          can('users:write') && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="create-staff">
              {t('users.create')}
            </Button>
          )
        }
      />
      <Filters onSearch={setQ} status={status} onStatus={setStatus} />
      <UsersTable filters={{ kind: 'staff', q, status }} columns={columns} />
      <CreateStaffModal open={creating} onClose={() => setCreating(false)} roles={roleList} />
      <EditStaffModal user={editing} onClose={() => setEditing(null)} roles={viewRoles} />
    </Space>
  );
}

/** 用户与权限 › 顾客与代理: customer and reseller accounts (the users list with a kind filter). */
export function CustomersPage() {
  const { t } = useTranslation();
  const [kind, setKind] = useState<Exclude<UserKind, 'staff'>>('customer');
  const [q, setQ] = useState('');
  const [status, setStatus] = useState<'active' | 'disabled'>();

  const columns: ColumnsType<UserOut> = [
    userColumn(t),
    { title: t('users.phone'), dataIndex: 'phone', width: 150, render: (p: string | null) => p ?? '—' },
    statusColumn(t),
    {
      title: t('users.lastLogin'),
      dataIndex: 'last_login_at',
      width: 180,
      render: (at: string | null) => (at ? formatTime(at) : <Typography.Text type="secondary">{t('users.never')}</Typography.Text>),
    },
    { title: t('users.createdAt'), dataIndex: 'created_at', width: 180, render: formatTime },
    { title: t('users.actions'), key: 'actions', width: 200, fixed: 'right', render: (_, u) => <UserActions user={u} /> },
  ];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead title={t('users.customersTitle')} subtitle={t('users.customersSubtitle')} />
      <Filters onSearch={setQ} status={status} onStatus={setStatus}>
        <Segmented<Exclude<UserKind, 'staff'>>
          value={kind}
          onChange={setKind}
          options={[
            { value: 'customer', label: t('users.kindCustomer') },
            { value: 'reseller', label: t('users.kindReseller') },
          ]}
          data-testid="kind-switch"
        />
      </Filters>
      <UsersTable filters={{ kind, q, status }} columns={columns} />
    </Space>
  );
}
