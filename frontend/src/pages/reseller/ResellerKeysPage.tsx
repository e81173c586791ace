import { EditOutlined, PlusOutlined, StopOutlined, SyncOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Form, Input, InputNumber, Modal, Popconfirm, Select, Space, Table, Tag, Tooltip, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

import { toApiError } from '../../api';
import type { ResellerKeyCreated, ResellerKeyOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeAnyError, describeError } from '../../errorMessages';
import { formatTime } from '../../format';
import { useCreateKey, useMyKeys, useRevokeKey, useRotateKey, useUpdateKey } from '../../queries/resellers';
import { KeyStatusTag, SecretOnceModal } from './resellerShared';

interface KeyValues {
  name: string;
  ip_allowlist: string[];
  rate_limit_per_min?: number | null;
}

const CIDR = /^(\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?|[0-9a-fA-F:]+:[0-9a-fA-F:]*(\/\d{1,3})?)$/;

/** Create (`key` null) or edit a key: name, IP allowlist (CIDRs), rate limit. */
function KeyModal({ open, keyOut, onClose, onCreated }: { open: boolean; keyOut: ResellerKeyOut | null; onClose: () => void; onCreated: (k: ResellerKeyCreated) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<KeyValues>();
  const create = useCreateKey();
  const update = useUpdateKey();
  const [error, setError] = useState<string | null>(null);
  const busy = create.isPending || update.isPending;

  const submit = async () => {
    const v = await form.validateFields();
    setError(null);
    const body = { name: v.name.trim(), ip_allowlist: v.ip_allowlist.map((s) => s.trim()).filter(Boolean), rate_limit_per_min: v.rate_limit_per_min ?? null };
    const onError = (e: unknown) => setError(describeError(toApiError(e), t));
    if (keyOut) update.mutate({ id: keyOut.id, body }, { onSuccess: onClose, onError });
    else
      create.mutate(body, {
        onSuccess: (k) => {
          onClose();
          onCreated(k);
        },
        onError,
      });
  };

  return (
    <Modal
      open={open}
      title={keyOut ? t('reseller.editKey', { name: keyOut.name || keyOut.app_id }) : t('reseller.createKey')}
      onCancel={onClose}
      onOk={() => void submit()}
      okText={keyOut ? t('reseller.save') : t('reseller.create')}
      okButtonProps={{ loading: busy, 'data-testid': 'key-submit' }}
      destroyOnHidden
    >
      {/* mounted per opening (see the page): the values are there before the first keystroke */}
      <Form
        form={form}
        layout="vertical"
        requiredMark={false}
        data-testid="key-form"
        initialValues={{ name: keyOut?.name ?? '', ip_allowlist: keyOut?.ip_allowlist ?? [], rate_limit_per_min: keyOut?.rate_limit_per_min ?? null }}
      >
        <Form.Item name="name" label={t('reseller.keyName')} rules={[{ max: 64 }]} extra={t('reseller.keyNameHint')}>
          <Input maxLength={64} data-testid="key-name" />
        </Form.Item>
        <Form.Item
          name="ip_allowlist"
          label={t('reseller.ipAllowlist')}
          extra={t('reseller.ipAllowlistHint')}
          rules={[
            {
              validator: (_, value: string[] | undefined) => {
                const bad = (value ?? []).find((s) => !CIDR.test(s.trim()));
                return bad ? Promise.reject(new Error(t('reseller.badCidr', { value: bad }))) : Promise.resolve();
              },
            },
          ]}
        >
          <Select mode="tags" tokenSeparators={[',', ' ', '\n']} open={false} suffixIcon={null} placeholder="203.0.113.0/24" data-testid="key-allowlist" />
        </Form.Item>
        <Form.Item name="rate_limit_per_min" label={t('reseller.rateLimit')} extra={t('reseller.rateLimitHint')}>
          <InputNumber min={1} max={100000} precision={0} style={{ width: 200 }} suffix={t('reseller.perMin')} data-testid="key-rate" />
        </Form.Item>
      </Form>
      {error && <Alert type="error" showIcon message={error} data-testid="key-error" />}
    </Modal>
  );
}

/** 我的对接 › API 密钥: a reseller's open-API keys. */
export function ResellerKeysPage() {
  const { t } = useTranslation();
  const keys = useMyKeys();
  const rotate = useRotateKey();
  const revoke = useRevokeKey();
  const [editing, setEditing] = useState<ResellerKeyOut | 'new' | null>(null);
  const [shown, setShown] = useState<{ key: ResellerKeyCreated; rotated: boolean } | null>(null);

  const live = (k: ResellerKeyOut) => k.status === 'active' || k.status === 'rotated';

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('reseller.keysTitle')}
        subtitle={t('reseller.keysSubtitle')}
        extra={
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing('new')} data-testid="key-create">
            {t('reseller.createKey')}
          </Button>
        }
      />
      {keys.isError && <Alert type="error" showIcon message={describeAnyError(keys.error, t)} />}
      <Card className="kameng-card">
        <Table<ResellerKeyOut>
          rowKey="id"
          loading={keys.isPending}
          dataSource={keys.data ?? []}
          pagination={false}
          scroll={{ x: 1200 }}
          data-testid="key-table"
          locale={{ emptyText: t('reseller.noKeys') }}
          columns={[
            { title: t('reseller.keyName'), dataIndex: 'name', width: 140, render: (v: string) => v || <Typography.Text type="secondary">—</Typography.Text> },
            {
              title: 'App ID',
              dataIndex: 'app_id',
              width: 240,
              render: (v: string) => (
                <Typography.Text code copyable={{ text: v }} style={{ whiteSpace: 'nowrap' }} data-testid="key-app-id">
                  {v}
                </Typography.Text>
              ),
            },
            { title: t('reseller.secret'), dataIndex: 'secret_hint', render: (v: string) => <Typography.Text code data-testid="key-hint">{`••••${v}`}</Typography.Text> },
            { title: t('reseller.status'), dataIndex: 'status', render: (v: ResellerKeyOut['status']) => <KeyStatusTag status={v} /> },
            { title: t('reseller.lastUsed'), dataIndex: 'last_used_at', render: (v: string | null) => (v ? formatTime(v) : t('reseller.neverUsed')) },
            {
              title: t('reseller.expires'),
              dataIndex: 'expires_at',
              render: (v: string | null) => (v ? <Tooltip title={t('reseller.graceHint')}>{formatTime(v)}</Tooltip> : '—'),
            },
            {
              title: t('reseller.ipAllowlist'),
              dataIndex: 'ip_allowlist',
              render: (v: string[]) => (v.length ? v.map((c) => <Tag key={c}>{c}</Tag>) : <Typography.Text type="secondary">{t('reseller.anyIp')}</Typography.Text>),
            },
            { title: t('reseller.rateLimit'), dataIndex: 'rate_limit_per_min', render: (v: number) => t('reseller.ratePerMin', { n: v }) },
            {
              title: t('reseller.actions'),
              key: 'actions',
              fixed: 'right',
              width: 220,
              render: (_, k) =>
                live(k) ? (
                  <Space size={0}>
                    <Button type="link" size="small" icon={<EditOutlined />} onClick={() => setEditing(k)} data-testid={`key-edit-${k.id}`}>
                      {t('reseller.edit')}
                    </Button>
                    {k.status === 'active' && (
                      <Popconfirm
                        title={t('reseller.rotateConfirm')}
                        description={<div style={{ maxWidth: 320 }}>{t('reseller.rotateExplain')}</div>}
                        onConfirm={() => rotate.mutate(k.id, { onSuccess: (created) => setShown({ key: created, rotated: true }) })}
                        okButtonProps={{ 'data-testid': 'rotate-confirm' }}
                      >
                        <Button type="link" size="small" icon={<SyncOutlined />} data-testid={`key-rotate-${k.id}`}>
                          {t('reseller.rotate')}
                        </Button>
                      </Popconfirm>
                    )}
                    <Popconfirm
                      title={t('reseller.revokeConfirm')}
                      description={<div style={{ maxWidth: 320 }}>{t('reseller.revokeExplain')}</div>}
                      okType="danger"
                      onConfirm={() => revoke.mutate(k.id)}
                      okButtonProps={{ 'data-testid': 'revoke-confirm' }}
                    >
                      <Button type="link" size="small" danger icon={<StopOutlined />} data-testid={`key-revoke-${k.id}`}>
                        {t('reseller.revoke')}
                      </Button>
                    </Popconfirm>
                  </Space>
                ) : null,
            },
          ]}
        />
      </Card>
      {editing !== null && (
        <KeyModal open keyOut={editing === 'new' ? null : editing} onClose={() => setEditing(null)} onCreated={(k) => setShown({ key: k, rotated: false })} />
      )}
      <SecretOnceModal
        open={shown !== null}
        title={shown?.rotated ? t('reseller.rotatedTitle') : t('reseller.createdTitle')}
        appId={shown?.key.app_id}
        secret={shown?.key.secret ?? ''}
        note={shown?.rotated ? t('reseller.rotatedNote') : undefined}
        onClose={() => setShown(null)}
      />
    </Space>
  );
}
