import { CopyOutlined, DeleteOutlined, EditOutlined, EyeOutlined, LockOutlined, PlusOutlined } from '@ant-design/icons';
import {
  Alert,
  App,
  Button,
  Card,
  Checkbox,
  Drawer,
  Form,
  Input,
  Popconfirm,
  Result,
  Skeleton,
  Space,
  Table,
  Tag,
  Tooltip,
  Typography,
} from 'antd';
import { useState, type HTMLAttributes } from 'react';
import { useTranslation } from 'react-i18next';

import { ApiError, toApiError } from '../../api';
import { hasPermission } from '../../auth/permissions';
import type { PermissionModuleOut, RoleOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeAnyError, describeError, fieldName } from '../../errorMessages';
import { useCan, useMe } from '../../queries/me';
import { useCreateRole, useDeleteRole, usePermissionCatalogue, useRoles, useUpdateRole } from '../../queries/roles';

export const ROLE_KEY_PATTERN = /^[a-z][a-z0-9_]{1,63}$/;

/** A role key suggested from its name: "Key uploader only" → "key_uploader_only". */
export function suggestRoleKey(name: string): string {
  const key = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^[^a-z]+/, '')
    .replace(/_+$/, '')
    .slice(0, 64);
  return ROLE_KEY_PATTERN.test(key) ? key : '';
}

type EditorMode = 'create' | 'edit' | 'view';

interface EditorState {
  mode: EditorMode;
  role: RoleOut | null;
  name: string;
  key: string;
  description: string;
  permissions: string[];
}

interface RoleValues {
  name: string;
  key: string;
  description: string;
}

function PermissionModule(props: {
  module: PermissionModuleOut;
  selected: ReadonlySet<string>;
  grantable: (code: string) => boolean;
  readOnly: boolean;
  onChange: (codes: string[], on: boolean) => void;
}) {
  const { t, i18n } = useTranslation();
  const english = i18n.resolvedLanguage === 'en';
  const { module, selected, grantable, readOnly, onChange } = props;
  const codes = module.permissions.map((p) => p.code);
  const chosen = codes.filter((c) => selected.has(c));
  const changeable = codes.filter(grantable);
  const allOn = chosen.length === codes.length;

  return (
    <div className="kameng-perm-module" data-testid={`perm-module-${module.key}`}>
      <div className="kameng-perm-module-head">
        <Checkbox
          checked={allOn}
          indeterminate={chosen.length > 0 && !allOn}
          disabled={readOnly || changeable.length === 0}
          onChange={(e) => onChange(changeable, e.target.checked)}
        >
          <Typography.Text strong>{english ? module.label_en : module.label_zh}</Typography.Text>
        </Checkbox>
        <Typography.Text type="secondary">
          {chosen.length}/{codes.length}
        </Typography.Text>
      </div>
      <div className="kameng-perm-grid">
        {module.permissions.map((p) => {
          const mayChange = grantable(p.code);
          const hint = !mayChange && !readOnly ? t('roles.notHeld') : p.sensitive ? t('roles.sensitiveHint') : null;
          return (
            <Tooltip key={p.code} title={hint}>
              <Checkbox
                checked={selected.has(p.code)}
                disabled={readOnly || !mayChange}
                onChange={(e) => onChange([p.code], e.target.checked)}
                data-testid={`perm-${p.code}`}
                className="kameng-perm"
              >
                <span className="kameng-perm-label">{english ? p.label_en : p.label_zh}</span>
                {p.sensitive && (
                  <Tag color="red" className="kameng-perm-sensitive">
                    <LockOutlined /> {t('roles.sensitive')}
                  </Tag>
                )}
                <div className="kameng-perm-code">{p.code}</div>
              </Checkbox>
            </Tooltip>
          );
        })}
      </div>
    </div>
  );
}

function RoleEditor({ state, onClose }: { state: EditorState; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const me = useMe().data;
  const catalogue = usePermissionCatalogue();
  const create = useCreateRole();
  const update = useUpdateRole();
  const [form] = Form.useForm<RoleValues>();
  const [selected, setSelected] = useState<Set<string>>(() => new Set(state.permissions));
  const [keyTouched, setKeyTouched] = useState(state.mode !== 'create' || state.key !== '');
  const [error, setError] = useState<string | null>(null);
  const readOnly = state.mode === 'view';
  const original = new Set(state.role?.permissions ?? []);
  // you may grant what you hold; an edited role may keep (and get back) what it already had
  const grantable = (code: string) => hasPermission(me, code) || (state.mode === 'edit' && original.has(code));

  const change = (codes: string[], on: boolean) => {
    setSelected((prev) => {
      const next = new Set(prev);
      for (const code of codes) {
        if (on) next.add(code);
        else next.delete(code);
      }
      return next;
    });
  };

  const fail = (e: unknown) => {
    const problem = e instanceof ApiError ? e : toApiError(e);
    if (problem.code === 'role_key_taken') form.setFields([{ name: 'key', errors: [describeError(problem, t)] }]);
    else if (problem.code === 'validation_failed' && problem.errors.length > 0) {
      const known: (keyof RoleValues)[] = ['name', 'key', 'description'];
      const fields = problem.errors.flatMap((f) => {
        const name = known.find((k) => k === fieldName(f.loc));
        return name ? [{ name, errors: [f.msg] }] : [];
      });
      if (fields.length > 0) form.setFields(fields);
      else setError(describeError(problem, t));
    } else setError(describeError(problem, t));
  };

  const save = (values: RoleValues) => {
    setError(null);
    const body = { name: values.name.trim(), description: values.description.trim(), permissions: [...selected].sort() };
    const done = () => {
      void message.success(t('roles.saved'));
      onClose();
    };
    if (state.mode === 'edit' && state.role) update.mutate({ id: state.role.id, ...body }, { onSuccess: done, onError: fail });
    else create.mutate({ ...body, key: values.key.trim() }, { onSuccess: done, onError: fail });
  };

  const title =
    state.mode === 'view'
      ? t('roles.viewTitle', { name: state.name })
      : state.mode === 'edit'
        ? t('roles.editTitle', { name: state.name })
        : t('roles.createTitle');

  return (
    <Drawer
      open
      width={760}
      title={title}
      onClose={onClose}
      destroyOnHidden
      data-testid="role-editor"
      extra={
        readOnly ? null : (
          <Space>
            <Button onClick={onClose}>{t('roles.cancel')}</Button>
            <Button type="primary" onClick={() => form.submit()} loading={create.isPending || update.isPending} data-testid="role-save">
              {t('roles.save')}
            </Button>
          </Space>
        )
      }
    >
      {readOnly && <Alert type="info" showIcon message={t('roles.readonlyHint')} style={{ marginBottom: 16 }} />}
      <Form<RoleValues>
        form={form}
        layout="vertical"
        requiredMark={false}
        disabled={readOnly}
        initialValues={{ name: state.name, key: state.key, description: state.description }}
        onFinish={save}
        onValuesChange={(changed: Partial<RoleValues>) => {
          if (changed.key !== undefined) setKeyTouched(true);
          if (changed.name !== undefined && !keyTouched && state.mode === 'create') {
            form.setFieldValue('key', suggestRoleKey(changed.name));
          }
        }}
      >
        <div className="kameng-form-row">
          <Form.Item name="name" label={t('roles.name')} rules={[{ required: true, whitespace: true, message: t('roles.nameRequired') }, { max: 64 }]}>
            <Input maxLength={64} data-testid="role-name" />
          </Form.Item>
          <Form.Item
            name="key"
            label={t('roles.key')}
            extra={state.mode === 'create' ? t('roles.keyHint') : null}
            rules={[{ required: true, pattern: ROLE_KEY_PATTERN, message: t('roles.keyInvalid') }]}
          >
            <Input maxLength={64} disabled={state.mode !== 'create'} data-testid="role-key" />
          </Form.Item>
        </div>
        <Form.Item name="description" label={t('roles.description')} rules={[{ max: 255 }]}>
          <Input.TextArea rows={2} maxLength={255} data-testid="role-description" />
        </Form.Item>
      </Form>

      <div className="kameng-perm-head">
        <Typography.Title level={5} style={{ margin: 0 }}>
          {t('roles.permissions')}
        </Typography.Title>
        <Space size={12}>
          <Typography.Text type="secondary" data-testid="role-selected-count">
            {t('roles.selected', { count: selected.size })}
          </Typography.Text>
          <Tag color="red">
            <LockOutlined /> {t('roles.sensitive')}
          </Tag>
          <Typography.Text type="secondary" className="kameng-perm-legend">
            {t('roles.sensitiveHint')}
          </Typography.Text>
        </Space>
      </div>
      {catalogue.isPending ? (
        <Skeleton active />
      ) : catalogue.data ? (
        <div className="kameng-perm-modules">
          {catalogue.data.map((module) => (
            <PermissionModule
              key={module.key}
              module={module}
              selected={selected}
              grantable={grantable}
              readOnly={readOnly}
              onChange={change}
            />
          ))}
        </div>
      ) : (
        <Result status="error" title={t('roles.catalogueFailed')} subTitle={describeAnyError(catalogue.error, t)} />
      )}
      {error && <Alert type="error" showIcon message={error} style={{ marginTop: 16 }} data-testid="role-error" />}
    </Drawer>
  );
}

/** 用户与权限 › 角色: built-in roles (read-only) and custom roles made of permissions. */
export function RolesPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const can = useCan();
  const me = useMe().data;
  const roles = useRoles();
  const remove = useDeleteRole();
  const [editor, setEditor] = useState<EditorState | null>(null);
  const writable = can('roles:write');

  const open = (mode: EditorMode, role: RoleOut | null) => {
    if (mode === 'create' && role) {
      // a copy starts as a new custom role with what you may grant of the original
      setEditor({
        mode,
        role: null,
        name: t('roles.copyOf', { name: role.name }),
        key: suggestRoleKey(`${role.key}_copy`),
        description: role.description,
        permissions: role.permissions.filter((p) => hasPermission(me, p)),
      });
      return;
    }
    setEditor({
      mode,
      role,
      name: role?.name ?? '',
      key: role?.key ?? '',
      description: role?.description ?? '',
      permissions: role?.permissions ?? [],
    });
  };

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('roles.title')}
        subtitle={t('roles.subtitle')}
        extra={
          writable && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => open('create', null)} data-testid="create-role">
              {t('roles.create')}
            </Button>
          )
        }
      />
      <Card className="kameng-card">
        <Table<RoleOut>
          rowKey="id"
          loading={roles.isPending}
          dataSource={roles.data ?? []}
          pagination={false}
          scroll={{ x: 900 }}
          data-testid="roles-table"
          onRow={(role) => ({ 'data-testid': `role-row-${role.key}` }) as HTMLAttributes<HTMLElement>}
          columns={[
            {
              title: t('roles.name'),
              key: 'name',
              render: (_, r) => (
                <div>
                  <Typography.Text strong>{r.name}</Typography.Text>
                  <div>
                    <Typography.Text type="secondary" code>
                      {r.key}
                    </Typography.Text>
                  </div>
                </div>
              ),
            },
            {
              title: t('roles.type'),
              dataIndex: 'builtin',
              width: 100,
              render: (builtin: boolean) =>
                builtin ? <Tag color="gold">{t('roles.builtin')}</Tag> : <Tag color="blue">{t('roles.custom')}</Tag>,
            },
            {
              title: t('roles.permissions'),
              key: 'permissions',
              width: 150,
              render: (_, r) =>
                r.key === 'super_admin' ? (
                  <Tag color="gold">{t('roles.allPermissions')}</Tag>
                ) : (
                  <Tooltip title={r.permissions.join(', ') || null}>
                    <span>{t('roles.permissionCount', { count: r.permissions.length })}</span>
                  </Tooltip>
                ),
            },
            { title: t('roles.users'), dataIndex: 'user_count', width: 90 },
            {
              title: t('roles.description'),
              dataIndex: 'description',
              ellipsis: true,
              render: (d: string) => d || <Typography.Text type="secondary">—</Typography.Text>,
            },
            {
              title: t('roles.actions'),
              key: 'actions',
              width: 230,
              render: (_, r) => (
                <Space size={0} wrap>
                  {r.builtin || !writable ? (
                    <Button size="small" type="link" icon={<EyeOutlined />} onClick={() => open('view', r)}>
                      {t('roles.view')}
                    </Button>
                  ) : (
                    <Button size="small" type="link" icon={<EditOutlined />} onClick={() => open('edit', r)} data-testid={`edit-role-${r.key}`}>
                      {t('roles.edit')}
                    </Button>
                  )}
                  {writable && (
                    <Button size="small" type="link" icon={<CopyOutlined />} onClick={() => open('create', r)}>
                      {t('roles.copy')}
                    </Button>
                  )}
                  {writable && !r.builtin && (
                    <Popconfirm
                      title={t('roles.deleteConfirm', { name: r.name })}
                      okButtonProps={{ danger: true }}
                      onConfirm={() => remove.mutate(r.id, { onSuccess: () => void message.success(t('roles.deleted')) })}
                    >
                      <Button size="small" type="link" danger icon={<DeleteOutlined />}>
                        {t('roles.delete')}
                      </Button>
                    </Popconfirm>
                  )}
                </Space>
              ),
            },
          ]}
        />
      </Card>
      {editor && <RoleEditor key={`${editor.mode}-${editor.role?.id ?? 'new'}`} state={editor} onClose={() => setEditor(null)} />}
    </Space>
  );
}
