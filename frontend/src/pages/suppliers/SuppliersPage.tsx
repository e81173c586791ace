import { ApiOutlined, EditOutlined, PlusOutlined, ReloadOutlined, ThunderboltOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Form, Input, InputNumber, Modal, Popconfirm, Row, Select, Space, Switch, Table, Tag, Tooltip, Typography } from 'antd';
import type { UseQueryResult } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

import { toApiError } from '../../api';
import type { CircuitOut, CredentialsIn, HealthOut, SupplierIn, SupplierOut, SupplierPatch, TestOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeAnyError, describeError } from '../../errorMessages';
import { formatLatency, formatTime, yuan } from '../../format';
import { useCan } from '../../queries/me';
import {
  CREDENTIAL_FIELDS,
  PROTOCOLS,
  useResetCircuit,
  useSaveSupplier,
  useSupplierHealths,
  useSuppliers,
  useTestSupplier,
  type SupplierProtocol,
} from '../../queries/suppliers';

type CredentialName = keyof CredentialsIn;

interface SupplierValues {
  name: string;
  protocol: SupplierProtocol;
  base_url: string;
  credentials: Partial<Record<CredentialName, string>>;
  timeout_s: number;
  enabled: boolean;
  serves_unmapped: boolean;
  low_balance_threshold?: string;
}

const CIRCUIT_COLOR: Record<CircuitOut['state'], string> = { closed: 'success', half_open: 'warning', open: 'error' };

export function CircuitTag({ circuit }: { circuit: CircuitOut | undefined }) {
  const { t } = useTranslation();
  if (!circuit) return <Tag>—</Tag>;
  return (
    <Tooltip title={t('suppliers.circuitCalls', { calls: circuit.calls, errors: circuit.errors })}>
      <Tag color={CIRCUIT_COLOR[circuit.state]} data-testid="circuit-tag" data-state={circuit.state}>
        {t(`suppliers.circuit.${circuit.state}`)}
      </Tag>
    </Tooltip>
  );
}

function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(1)}%`;
}

/** Create (`supplier` null) or edit a supplier. Credentials are write-only: a set one shows 已设置. */
function SupplierModal({ open, supplier, onClose }: { open: boolean; supplier: SupplierOut | null; onClose: () => void }) {
  const { t } = useTranslation();
  const can = useCan();
  const [form] = Form.useForm<SupplierValues>();
  const watched = Form.useWatch('protocol', form) as SupplierProtocol | undefined;
  const protocol = watched ?? supplier?.protocol ?? 'http_json';
  const save = useSaveSupplier();
  const [error, setError] = useState<string | null>(null);
  const mayCredentials = can('suppliers:credentials');
  const managed = supplier?.settings_managed ?? false;

  const submit = async () => {
    const v = await form.validateFields();
    setError(null);
    const typed = Object.fromEntries(CREDENTIAL_FIELDS[v.protocol].map((f) => [f, v.credentials[f]?.trim()]).filter(([, x]) => x)) as CredentialsIn;
    const changedCredentials = Object.keys(typed).length > 0;
    const threshold = v.low_balance_threshold?.trim() || null;
    const common = { name: v.name.trim(), base_url: v.base_url.trim(), timeout_s: v.timeout_s, enabled: v.enabled, serves_unmapped: v.serves_unmapped, low_balance_threshold: threshold };
    const body: SupplierIn | SupplierPatch = supplier
      ? { ...common, ...(changedCredentials ? { credentials: typed } : {}) }
      : { ...common, protocol: v.protocol, credentials: typed };
    save.mutate({ id: supplier?.id ?? null, body }, { onSuccess: onClose, onError: (e) => setError(describeError(toApiError(e), t)) });
  };

  return (
    <Modal
      open={open}
      width={720}
      title={supplier ? t('suppliers.edit', { name: supplier.name }) : t('suppliers.add')}
      onCancel={onClose}
      onOk={() => void submit()}
      okText={t('suppliers.save')}
      okButtonProps={{ loading: save.isPending, 'data-testid': 'supplier-submit' }}
      destroyOnHidden
    >
      {managed && <Alert type="info" showIcon message={t('suppliers.settingsManaged')} style={{ marginBottom: 16 }} />}
      <Form form={form} layout="vertical" requiredMark={false} data-testid="supplier-form" initialValues={{
          name: supplier?.name ?? '',
          protocol: supplier?.protocol ?? 'http_json',
          base_url: supplier?.base_url ?? '',
          credentials: {},
          timeout_s: supplier?.timeout_s ?? 8,
          enabled: supplier?.enabled ?? true,
          serves_unmapped: supplier?.serves_unmapped ?? false,
          low_balance_threshold: supplier?.low_balance_threshold ?? '',
        }}
      >
        <Row gutter={16}>
          <Col xs={24} md={12}>
            <Form.Item name="name" label={t('suppliers.name')} rules={[{ required: true, whitespace: true, max: 64, message: t('suppliers.nameRequired') }]}>
              <Input maxLength={64} data-testid="supplier-name" />
            </Form.Item>
          </Col>
          <Col xs={24} md={12}>
            <Form.Item name="protocol" label={t('suppliers.protocol')} extra={supplier ? t('suppliers.protocolFixed') : undefined}>
              <Select disabled={!!supplier} options={PROTOCOLS.map((p) => ({ value: p, label: t(`suppliers.protocols.${p}`) }))} data-testid="supplier-protocol" />
            </Form.Item>
          </Col>
        </Row>
        <Form.Item
          name="base_url"
          label={t('suppliers.baseUrl')}
          extra={t('suppliers.baseUrlHint')}
          rules={[
            { required: true, message: t('suppliers.baseUrlRequired') },
            { type: 'url', message: t('suppliers.baseUrlRequired') },
            { min: 8, max: 512 },
          ]}
        >
          <Input placeholder="https://api.supplier.example" maxLength={512} data-testid="supplier-base-url" />
        </Form.Item>
        <Card size="small" title={t('suppliers.credentials')} style={{ marginBottom: 16 }} extra={!mayCredentials && <Typography.Text type="secondary">{t('suppliers.credentialsNoPermission')}</Typography.Text>}>
          <Typography.Paragraph type="secondary" style={{ marginTop: 0 }}>
            {supplier ? t('suppliers.credentialsEditHint') : t('suppliers.credentialsHint')}
          </Typography.Paragraph>
          <Row gutter={16}>
            {CREDENTIAL_FIELDS[protocol].map((field) => {
              const set = supplier?.credential_fields.includes(field) ?? false;
              return (
                <Col xs={24} md={12} key={field}>
                  <Form.Item name={['credentials', field]} label={<Space>{t(`suppliers.cred.${field}`)}{set && <Tag color="success">{t('suppliers.isSet')}</Tag>}</Space>}>
                    <Input.Password
                      autoComplete="new-password"
                      disabled={!mayCredentials || managed}
                      placeholder={set ? t('suppliers.isSetPlaceholder') : ''}
                      maxLength={256}
                      data-testid={`supplier-cred-${field}`}
                    />
                  </Form.Item>
                </Col>
              );
            })}
          </Row>
        </Card>
        <Row gutter={16}>
          <Col xs={12} md={6}>
            <Form.Item name="timeout_s" label={t('suppliers.timeout')} rules={[{ required: true }]}>
              <InputNumber min={0.5} max={12} step={0.5} suffix={t('suppliers.seconds')} style={{ width: '100%' }} data-testid="supplier-timeout" />
            </Form.Item>
          </Col>
          <Col xs={12} md={6}>
            <Form.Item name="low_balance_threshold" label={t('suppliers.lowBalance')} rules={[{ pattern: /^\d{1,12}(\.\d{1,4})?$/, message: t('suppliers.moneyInvalid') }]}>
              <Input prefix="¥" data-testid="supplier-threshold" />
            </Form.Item>
          </Col>
          <Col xs={12} md={6}>
            <Form.Item name="enabled" label={t('suppliers.enabled')} valuePropName="checked">
              <Switch data-testid="supplier-enabled" />
            </Form.Item>
          </Col>
          <Col xs={12} md={6}>
            <Form.Item name="serves_unmapped" label={t('suppliers.servesUnmapped')} valuePropName="checked" tooltip={t('suppliers.servesUnmappedHint')}>
              <Switch data-testid="supplier-serves-unmapped" />
            </Form.Item>
          </Col>
        </Row>
      </Form>
      {error && <Alert type="error" showIcon message={error} data-testid="supplier-error" />}
    </Modal>
  );
}

function TestResult({ result, name, onClose }: { result: TestOut | null; name: string; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <Modal open={result !== null} title={t('suppliers.testTitle', { name })} onCancel={onClose} onOk={onClose} cancelButtonProps={{ style: { display: 'none' } }} destroyOnHidden>
      {result && (
        <Alert
          type={result.ok ? 'success' : 'error'}
          showIcon
          data-testid="test-result"
          data-ok={String(result.ok)}
          message={result.ok ? t('suppliers.testOk', { ms: result.latency_ms }) : t('suppliers.testFailed', { ms: result.latency_ms })}
          description={result.ok ? t('suppliers.testBalance', { balance: yuan(result.balance) }) : <span className="kameng-break">{result.error}</span>}
        />
      )}
    </Modal>
  );
}

/** 上游 › 供应商: every supplier with its health; add, edit, test, reset the circuit. */
export function SuppliersPage() {
  const { t } = useTranslation();
  const can = useCan();
  const writable = can('suppliers:write');
  const suppliers = useSuppliers();
  const list = suppliers.data ?? [];
  const healths = useSupplierHealths(list.map((s) => s.id));
  const healthOf = new Map<number, UseQueryResult<HealthOut>>(list.map((s, i) => [s.id, healths[i] as UseQueryResult<HealthOut>]));
  const test = useTestSupplier();
  const reset = useResetCircuit();
  const [editing, setEditing] = useState<SupplierOut | 'new' | null>(null);
  const [tested, setTested] = useState<{ name: string; result: TestOut } | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('suppliers.title')}
        subtitle={t('suppliers.subtitle')}
        extra={
          <Space>
            <Button icon={<ReloadOutlined />} onClick={() => void suppliers.refetch()}>
              {t('suppliers.refresh')}
            </Button>
            {writable && (
              <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing('new')} data-testid="supplier-add">
                {t('suppliers.add')}
              </Button>
            )}
          </Space>
        }
      />
      {suppliers.isError && <Alert type="error" showIcon message={describeAnyError(suppliers.error, t)} />}
      {actionError && <Alert type="error" showIcon closable onClose={() => setActionError(null)} message={actionError} />}
      <Card className="kameng-card">
        <Table<SupplierOut>
          rowKey="id"
          loading={suppliers.isPending}
          dataSource={list}
          pagination={false}
          scroll={{ x: 1100 }}
          data-testid="supplier-table"
          locale={{ emptyText: t('suppliers.none') }}
          onRow={(s) => ({ 'data-testid': `supplier-row-${s.id}` }) as React.HTMLAttributes<HTMLElement>}
          columns={[
            {
              title: t('suppliers.name'),
              dataIndex: 'name',
              render: (v: string, s) => (
                <Space direction="vertical" size={0}>
                  <Space size={4}>
                    <Typography.Text strong>{v}</Typography.Text>
                    {!s.enabled && <Tag>{t('suppliers.disabled')}</Tag>}
                    {s.settings_managed && <Tag color="blue">{t('suppliers.managedTag')}</Tag>}
                  </Space>
                  <Typography.Text type="secondary" className="kameng-note" title={t(`suppliers.protocols.${s.protocol}`)}>
                    {s.protocol}
                  </Typography.Text>
                </Space>
              ),
            },
            { title: t('suppliers.baseUrl'), dataIndex: 'base_url', ellipsis: { showTitle: true }, width: 200 },
            {
              title: t('suppliers.circuitCol'),
              key: 'circuit',
              width: 100,
              render: (_, s) => <CircuitTag circuit={healthOf.get(s.id)?.data?.circuit} />,
            },
            {
              title: t('suppliers.successRate'),
              key: 'rate',
              width: 110,
              render: (_, s) => {
                const h = healthOf.get(s.id)?.data;
                return h ? (
                  <Tooltip title={t('suppliers.orders24h', { n: h.orders, ok: h.succeeded, failed: h.failed })}>
                    <span data-testid="success-rate">{percent(h.success_rate)}</span>
                  </Tooltip>
                ) : (
                  '—'
                );
              },
            },
            {
              title: 'p50 / p95',
              key: 'latency',
              width: 130,
              render: (_, s) => {
                const h = healthOf.get(s.id)?.data;
                return h ? `${formatLatency(h.p50_latency_ms) ?? '—'} / ${formatLatency(h.p95_latency_ms) ?? '—'}` : '—';
              },
            },
            {
              title: t('suppliers.balance'),
              key: 'balance',
              width: 160,
              render: (_, s) => {
                const low = s.balance !== null && s.low_balance_threshold !== null && Number(s.balance) < Number(s.low_balance_threshold);
                return s.balance === null ? (
                  <Typography.Text type="secondary">{t('suppliers.balanceUnknown')}</Typography.Text>
                ) : (
                  <Space direction="vertical" size={0}>
                    <Typography.Text type={low ? 'danger' : undefined} data-testid="supplier-balance">
                      {yuan(s.balance)} {low && <Tag color="error">{t('suppliers.low')}</Tag>}
                    </Typography.Text>
                    <Typography.Text type="secondary" className="kameng-note">
                      {formatTime(s.balance_at)}
                    </Typography.Text>
                  </Space>
                );
              },
            },
            {
              title: t('suppliers.lastError'),
              key: 'error',
              ellipsis: true,
              render: (_, s) =>
                s.last_error ? (
                  <Tooltip title={`${formatTime(s.last_error_at)} · ${s.last_error}`}>
                    <Typography.Text type="danger">{s.last_error}</Typography.Text>
                  </Tooltip>
                ) : (
                  '—'
                ),
            },
            ...(writable
              ? [
                  {
                    title: t('suppliers.actions'),
                    key: 'actions',
                    fixed: 'right' as const,
                    width: 220,
                    render: (_: unknown, s: SupplierOut) => (
                      <Space size={0} wrap>
                        <Button type="link" size="small" icon={<EditOutlined />} onClick={() => setEditing(s)} data-testid={`supplier-edit-${s.id}`}>
                          {t('suppliers.editShort')}
                        </Button>
                        <Button
                          type="link"
                          size="small"
                          icon={<ApiOutlined />}
                          loading={test.isPending && test.variables === s.id}
                          data-testid={`supplier-test-${s.id}`}
                          onClick={() =>
                            test.mutate(s.id, {
                              onSuccess: (result) => setTested({ name: s.name, result }),
                              onError: (e) => setActionError(describeError(toApiError(e), t)),
                            })
                          }
                        >
                          {t('suppliers.test')}
                        </Button>
                        {healthOf.get(s.id)?.data?.circuit.state !== 'closed' && (
                          <Popconfirm title={t('suppliers.resetConfirm')} onConfirm={() => reset.mutate(s.id)} okButtonProps={{ 'data-testid': 'reset-confirm' }}>
                            <Button type="link" size="small" icon={<ThunderboltOutlined />} data-testid={`supplier-reset-${s.id}`}>
                              {t('suppliers.resetCircuit')}
                            </Button>
                          </Popconfirm>
                        )}
                      </Space>
                    ),
                  },
                ]
              : []),
          ]}
        />
        <Typography.Paragraph type="secondary" style={{ marginTop: 12, marginBottom: 0 }}>
          {t('suppliers.healthNote')}
        </Typography.Paragraph>
      </Card>
      {/* mounted per opening: the form starts from this supplier's values, before the first keystroke */}
      {editing !== null && <SupplierModal open supplier={editing === 'new' ? null : editing} onClose={() => setEditing(null)} />}
      <TestResult result={tested?.result ?? null} name={tested?.name ?? ''} onClose={() => setTested(null)} />
    </Space>
  );
}
