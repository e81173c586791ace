import { DeleteOutlined, EditOutlined, PlusOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Form, Input, InputNumber, Modal, Popconfirm, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

import { toApiError } from '../../api';
import type { MappingOut, SkuOut, SupplierOut } from '../../client';
import { describeAnyError, describeError } from '../../errorMessages';
import { yuan } from '../../format';
import { useCan } from '../../queries/me';
import { useDeleteMapping, useMappings, useSaveMapping, useSuppliers } from '../../queries/suppliers';

interface MappingValues {
  supplier_id: number;
  supplier_product_id: string;
  cost?: string;
  priority: number;
  enabled: boolean;
}

function MappingModal({ skuId, mapping, taken, suppliers, open, onClose }: { skuId: number; mapping: MappingOut | null; taken: number[]; suppliers: SupplierOut[]; open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<MappingValues>();
  const save = useSaveMapping();
  const [error, setError] = useState<string | null>(null);

  const submit = async () => {
    const v = await form.validateFields();
    setError(null);
    const cost = v.cost?.trim() || null;
    const body = mapping
      ? { supplier_product_id: v.supplier_product_id.trim(), cost, priority: v.priority, enabled: v.enabled }
      : { supplier_id: v.supplier_id, supplier_product_id: v.supplier_product_id.trim(), cost, priority: v.priority, enabled: v.enabled };
    save.mutate({ skuId, id: mapping?.id ?? null, body }, { onSuccess: onClose, onError: (e) => setError(describeError(toApiError(e), t)) });
  };

  return (
    <Modal
      open={open}
      title={mapping ? t('suppliers.mapping.edit') : t('suppliers.mapping.add')}
      onCancel={onClose}
      onOk={() => void submit()}
      okButtonProps={{ loading: save.isPending, 'data-testid': 'mapping-submit' }}
      destroyOnHidden
    >
      <Form
        form={form}
        layout="vertical"
        requiredMark={false}
        data-testid="mapping-form"
        initialValues={{
          supplier_id: mapping?.supplier_id,
          supplier_product_id: mapping?.supplier_product_id ?? '',
          cost: mapping?.cost ?? '',
          priority: mapping?.priority ?? 100,
          enabled: mapping?.enabled ?? true,
        }}
      >
        <Form.Item name="supplier_id" label={t('suppliers.mapping.supplier')} rules={[{ required: true, message: t('suppliers.mapping.supplierRequired') }]}>
          <Select
            disabled={!!mapping}
            options={suppliers.map((s) => ({ value: s.id, label: s.name, disabled: !mapping && taken.includes(s.id) }))}
            data-testid="mapping-supplier"
          />
        </Form.Item>
        <Form.Item name="supplier_product_id" label={t('suppliers.mapping.productId')} rules={[{ required: true, whitespace: true, max: 64, message: t('suppliers.mapping.productIdRequired') }]}>
          <Input maxLength={64} data-testid="mapping-product-id" />
        </Form.Item>
        <Space size={16} wrap>
          <Form.Item name="cost" label={t('suppliers.mapping.cost')} rules={[{ pattern: /^\d{1,12}(\.\d{1,4})?$/, message: t('suppliers.moneyInvalid') }]}>
            <Input prefix="¥" style={{ width: 160 }} data-testid="mapping-cost" />
          </Form.Item>
          <Form.Item name="priority" label={t('suppliers.mapping.priority')} tooltip={t('suppliers.mapping.priorityHint')} rules={[{ required: true }]}>
            <InputNumber min={0} max={2147483647} precision={0} style={{ width: 140 }} data-testid="mapping-priority" />
          </Form.Item>
          <Form.Item name="enabled" label={t('suppliers.enabled')} valuePropName="checked">
            <Switch data-testid="mapping-enabled" />
          </Form.Item>
        </Space>
      </Form>
      {error && <Alert type="error" showIcon message={error} data-testid="mapping-error" />}
    </Modal>
  );
}

function SkuMappings({ sku, suppliers, writable }: { sku: SkuOut; suppliers: SupplierOut[]; writable: boolean }) {
  const { t } = useTranslation();
  const mappings = useMappings(sku.id);
  const remove = useDeleteMapping();
  const [editing, setEditing] = useState<MappingOut | 'new' | null>(null);
  const nameOf = new Map(suppliers.map((s) => [s.id, s.name]));
  const rows = [...(mappings.data ?? [])].sort((a, b) => a.priority - b.priority || a.id - b.id);

  return (
    <div data-testid={`sku-mappings-${sku.id}`} style={{ marginBottom: 16 }}>
      <Space style={{ marginBottom: 8, justifyContent: 'space-between', width: '100%' }}>
        <Typography.Text strong>{sku.name}</Typography.Text>
        {writable && (
          <Button size="small" icon={<PlusOutlined />} onClick={() => setEditing('new')} data-testid={`mapping-add-${sku.id}`}>
            {t('suppliers.mapping.add')}
          </Button>
        )}
      </Space>
      {mappings.isError && <Alert type="error" showIcon message={describeAnyError(mappings.error, t)} />}
      <Table<MappingOut>
        rowKey="id"
        size="small"
        pagination={false}
        loading={mappings.isPending}
        dataSource={rows}
        locale={{ emptyText: t('suppliers.mapping.none') }}
        columns={[
          { title: t('suppliers.mapping.order'), key: 'order', width: 70, render: (_, __, i) => i + 1 },
          { title: t('suppliers.mapping.supplier'), dataIndex: 'supplier_id', render: (v: number) => nameOf.get(v) ?? `#${v}` },
          { title: t('suppliers.mapping.productId'), dataIndex: 'supplier_product_id', render: (v: string) => <Typography.Text code>{v}</Typography.Text> },
          { title: t('suppliers.mapping.cost'), dataIndex: 'cost', render: (v: string | null) => (v ? yuan(v) : '—') },
          { title: t('suppliers.mapping.priority'), dataIndex: 'priority', width: 90 },
          { title: t('suppliers.enabled'), dataIndex: 'enabled', width: 80, render: (v: boolean) => (v ? <Tag color="success">{t('suppliers.on')}</Tag> : <Tag>{t('suppliers.off')}</Tag>) },
          ...(writable
            ? [
                {
                  title: t('suppliers.actions'),
                  key: 'actions',
                  width: 150,
                  render: (_: unknown, m: MappingOut) => (
                    <Space size={0}>
                      <Button type="link" size="small" icon={<EditOutlined />} onClick={() => setEditing(m)}>
                        {t('suppliers.editShort')}
                      </Button>
                      <Popconfirm title={t('suppliers.mapping.removeConfirm')} okType="danger" onConfirm={() => remove.mutate({ skuId: sku.id, id: m.id })}>
                        <Button type="link" size="small" danger icon={<DeleteOutlined />}>
                          {t('suppliers.mapping.remove')}
                        </Button>
                      </Popconfirm>
                    </Space>
                  ),
                },
              ]
            : []),
        ]}
      />
      {editing !== null && (
        <MappingModal skuId={sku.id} mapping={editing === 'new' ? null : editing} taken={rows.map((m) => m.supplier_id)} suppliers={suppliers} open onClose={() => setEditing(null)} />
      )}
    </div>
  );
}

/** The product editor's 上游对接 card: per saved SKU, which suppliers serve it, in failover order. */
export function SupplierMappingsCard({ skus }: { skus: SkuOut[] }) {
  const { t } = useTranslation();
  const can = useCan();
  const suppliers = useSuppliers();
  const writable = can('suppliers:write');
  return (
    <Card className="kameng-card" title={t('suppliers.mapping.title')} data-testid="supplier-mappings">
      <Typography.Paragraph type="secondary" style={{ marginTop: 0 }}>
        {t('suppliers.mapping.hint')}
      </Typography.Paragraph>
      {suppliers.isError && <Alert type="error" showIcon message={describeAnyError(suppliers.error, t)} />}
      {skus.length === 0 ? (
        <Typography.Text type="secondary">{t('suppliers.mapping.saveFirst')}</Typography.Text>
      ) : (
        skus.map((sku) => <SkuMappings key={sku.id} sku={sku} suppliers={suppliers.data ?? []} writable={writable} />)
      )}
    </Card>
  );
}
