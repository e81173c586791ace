import { DeleteOutlined, EditOutlined, PlusOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Form, Input, InputNumber, Modal, Popconfirm, Space, Switch, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState, type HTMLAttributes } from 'react';
import { useTranslation } from 'react-i18next';

import { toApiError } from '../../api';
import type { CategoryOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeError } from '../../errorMessages';
import { useCategories, useCreateCategory, useDeleteCategory, useUpdateCategory } from '../../queries/catalog';
import { useCan } from '../../queries/me';

interface CategoryValues {
  name: string;
  icon?: string;
  sort?: number;
  visible?: boolean;
}

/** What the modal edits: a new category (under `parent`, or top-level) or an existing one. */
type Editing = { mode: 'create'; parent: CategoryOut | null } | { mode: 'edit'; category: CategoryOut };

function CategoryModal({ editing, onClose }: { editing: Editing | null; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const create = useCreateCategory();
  const update = useUpdateCategory();
  const [error, setError] = useState<string | null>(null);

  const close = () => {
    setError(null);
    onClose();
  };

  const submit = (values: CategoryValues) => {
    if (!editing) return;
    setError(null);
    const body = { name: values.name.trim(), icon: values.icon?.trim() ?? '', sort: values.sort ?? 0, visible: values.visible ?? true };
    const done = {
      onSuccess: () => {
        void message.success(t('catalog.categorySaved'));
        close();
      },
      onError: (e: unknown) => setError(describeError(toApiError(e), t)),
    };
    if (editing.mode === 'create') create.mutate({ ...body, parent_id: editing.parent?.id ?? null }, done);
    else update.mutate({ id: editing.category.id, ...body }, done);
  };

  const initial: CategoryValues =
    editing?.mode === 'edit'
      ? { name: editing.category.name, icon: editing.category.icon, sort: editing.category.sort, visible: editing.category.visible }
      : { name: '', icon: '', sort: 0, visible: true };
  const title =
    editing?.mode === 'edit'
      ? t('catalog.editCategory')
      : editing?.parent
        ? t('catalog.createSubCategoryOf', { name: editing.parent.name })
        : t('catalog.createCategory');

  return (
    <Modal
      open={editing !== null}
      title={title}
      onCancel={close}
      okText={t('catalog.save')}
      okButtonProps={{
        htmlType: 'submit',
        form: 'category-form',
        loading: create.isPending || update.isPending,
        'data-testid': 'category-save',
      }}
      destroyOnHidden
    >
      {editing && (
        <Form<CategoryValues> id="category-form" layout="vertical" requiredMark={false} initialValues={initial} onFinish={submit}>
          <Form.Item name="name" label={t('catalog.categoryName')} rules={[{ required: true, whitespace: true, max: 64, message: t('catalog.nameRequired') }]}>
            <Input maxLength={64} data-testid="category-name" />
          </Form.Item>
          <Form.Item name="icon" label={t('catalog.icon')} extra={t('catalog.iconHint')}>
            <Input maxLength={255} data-testid="category-icon" />
          </Form.Item>
          <Form.Item name="sort" label={t('catalog.sort')} extra={t('catalog.sortHint')}>
            <InputNumber min={-10000} max={10000} precision={0} style={{ width: 160 }} data-testid="category-sort" />
          </Form.Item>
          <Form.Item name="visible" label={t('catalog.visible')} valuePropName="checked">
            <Switch data-testid="category-visible" />
          </Form.Item>
        </Form>
      )}
      {error && <Alert type="error" showIcon message={error} data-testid="category-error" />}
    </Modal>
  );
}

/** 商品与库存 › 分类: the two-level category tree. */
export function CategoriesPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const can = useCan();
  const writable = can('catalog:write');
  const categories = useCategories();
  const remove = useDeleteCategory();
  const [editing, setEditing] = useState<Editing | null>(null);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const [collapsed, setCollapsed] = useState<ReadonlySet<number>>(new Set());

  // the table treats any `children` array as expandable: only top-level rows with children keep one
  const rows = (categories.data ?? []).map((c) => ({
    ...c,
    children: c.children && c.children.length > 0 ? c.children.map((ch) => ({ ...ch, children: undefined })) : undefined,
  }));

  const columns: ColumnsType<CategoryOut> = [
    {
      title: t('catalog.categoryName'),
      dataIndex: 'name',
      render: (name: string, c) => (
        <Space size={6}>
          {c.icon && <Typography.Text type="secondary">{c.icon}</Typography.Text>}
          <Typography.Text strong={c.parent_id === null}>{name}</Typography.Text>
        </Space>
      ),
    },
    { title: t('catalog.level'), key: 'level', width: 110, render: (_, c) => (c.parent_id === null ? t('catalog.topLevel') : t('catalog.subLevel')) },
    { title: t('catalog.productCount'), dataIndex: 'product_count', width: 110, render: (n?: number) => n ?? 0 },
    { title: t('catalog.sort'), dataIndex: 'sort', width: 90 },
    {
      title: t('catalog.visible'),
      dataIndex: 'visible',
      width: 100,
      render: (v: boolean) => <Tag color={v ? 'success' : 'default'}>{v ? t('catalog.shown') : t('catalog.hidden')}</Tag>,
    },
    ...(writable
      ? [
          {
            title: t('catalog.actions'),
            key: 'actions',
            width: 300,
            render: (_: unknown, c: CategoryOut) => (
              <Space size={4} wrap>
                {c.parent_id === null && (
                  <Button
                    size="small"
                    type="link"
                    icon={<PlusOutlined />}
                    onClick={() => setEditing({ mode: 'create', parent: c })}
                    data-testid={`add-sub-${c.id}`}
                  >
                    {t('catalog.addSub')}
                  </Button>
                )}
                <Button size="small" type="link" icon={<EditOutlined />} onClick={() => setEditing({ mode: 'edit', category: c })} data-testid={`edit-category-${c.id}`}>
                  {t('catalog.edit')}
                </Button>
                <Popconfirm
                  title={t('catalog.deleteCategoryConfirm', { name: c.name })}
                  onConfirm={() => {
                    setDeleteError(null);
                    remove.mutate(c.id, {
                      onSuccess: () => void message.success(t('catalog.categoryDeleted')),
                      onError: (e) => setDeleteError(describeError(toApiError(e), t)),
                    });
                  }}
                  okButtonProps={{ 'data-testid': 'delete-category-confirm' }}
                >
                  <Button size="small" type="link" danger icon={<DeleteOutlined />} data-testid={`delete-category-${c.id}`}>
                    {t('catalog.delete')}
                  </Button>
                </Popconfirm>
              </Space>
            ),
          },
        ]
      : []),
  ];

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('catalog.categoriesTitle')}
        subtitle={t('catalog.categoriesSubtitle')}
        extra={
          writable && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing({ mode: 'create', parent: null })} data-testid="create-category">
              {t('catalog.createCategory')}
            </Button>
          )
        }
      />
      {deleteError && (
        <Alert type="error" showIcon closable message={deleteError} onClose={() => setDeleteError(null)} data-testid="category-delete-error" />
      )}
      <Card className="kameng-card">
        <Table<CategoryOut>
          rowKey="id"
          loading={categories.isPending}
          dataSource={rows}
          columns={columns}
          pagination={false}
          expandable={{
            // every top-level category open unless the user closed it
            expandedRowKeys: rows.filter((c) => c.children && !collapsed.has(c.id)).map((c) => c.id),
            onExpand: (open, c) =>
              setCollapsed((before) => {
                const next = new Set(before);
                if (open) next.delete(c.id);
                else next.add(c.id);
                return next;
              }),
          }}
          onRow={(c) => ({ 'data-testid': `category-row-${c.id}` }) as HTMLAttributes<HTMLElement>}
          locale={{ emptyText: t('catalog.noCategories') }}
          data-testid="category-table"
        />
      </Card>
      <CategoryModal editing={editing} onClose={() => setEditing(null)} />
    </Space>
  );
}
