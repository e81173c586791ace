import { CheckCircleOutlined, InboxOutlined, ReloadOutlined, UploadOutlined } from '@ant-design/icons';
import {
  Alert,
  App,
  AutoComplete,
  Button,
  Card,
  Col,
  Descriptions,
  Form,
  Input,
  Popconfirm,
  Progress,
  Radio,
  Result,
  Row,
  Select,
  Skeleton,
  Space,
  Spin,
  Statistic,
  Steps,
  Switch,
  Table,
  Tabs,
  Tag,
  Typography,
  Upload,
  type UploadFile,
} from 'antd';
import type { TFunction } from 'i18next';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';

import { ApiError, toApiError } from '../../api';
import type { BodyInventoryStageImport, Encoding, ImportOut, ImportTarget, KeyFormat, ProblemSample } from '../../client';
import { PageHead } from '../../components/PageHead';
import { describeError } from '../../errorMessages';
import { yuan } from '../../format';
import {
  importRunning,
  useConfirmImport,
  useDiscardImport,
  useImport,
  useImportTargets,
  useInvalidateStock,
  useRevalidateImport,
  useStageImport,
} from '../../queries/inventory';
import { useCan } from '../../queries/me';
import { ImportsTable, INVENTORY_PATH, isProblemKind, PROBLEM_KINDS, skuLabels } from './inventoryShared';

const FORMATS: KeyFormat[] = ['card_secret', 'card_secret_cost', 'secret', 'secret_cost'];
const ENCODINGS: Encoding[] = ['auto', 'utf-8', 'gbk'];
const SEPARATORS = [',', '|', ';', '----', 'tab'];
/** A cost as the API takes it: up to 4 decimals, sent as a string. */
const COST_PATTERN = /^\d{1,10}(\.\d{1,4})?$/;
const PROBLEM_COLORS: Record<string, string> = {
  empty: 'default',
  malformed: 'error',
  too_long: 'error',
  bad_cost: 'error',
  duplicate_in_file: 'warning',
  in_stock: 'orange',
};

interface UploadValues {
  product_id?: number;
  sku_id?: number;
  format: KeyFormat;
  separator: string;
  encoding: Encoding;
  has_header: boolean;
  default_cost?: string;
  note?: string;
  source: 'paste' | 'file';
  text?: string;
  file?: UploadFile[];
}

/** "CARD0001,AAAA-BBBB-CCCC" for the chosen format and separator. */
export function exampleLine(format: KeyFormat, separator: string): string {
  const sep = separator.toLowerCase() === 'tab' ? '⇥' : separator || ',';
  const parts: Record<KeyFormat, string[]> = {
    card_secret: ['CARD0001', 'AAAA-BBBB-CCCC'],
    card_secret_cost: ['CARD0001', 'AAAA-BBBB-CCCC', '9.50'],
    secret: ['AAAA-BBBB-CCCC'],
    secret_cost: ['AAAA-BBBB-CCCC', '9.50'],
  };
  return parts[format].join(sep);
}

/** Label of a problem kind; a kind this SPA does not know yet shows as is. */
function problemLabel(kind: string, t: TFunction): string {
  return isProblemKind(kind) ? t(`inventoryImport.problems.${kind}`) : kind;
}

/** An API error as an alert: the sentence, and the server's own detail when it adds something. */
function ErrorAlert({ error, testid }: { error: unknown; testid: string }) {
  const { t } = useTranslation();
  if (!error) return null;
  const problem = error instanceof ApiError ? error : toApiError(error);
  const text = describeError(problem, t);
  const detail = problem.detail && !text.includes(problem.detail) ? problem.detail : undefined;
  return <Alert type="error" showIcon message={text} description={detail} data-testid={testid} style={{ marginTop: 16 }} />;
}

function targetOf(targets: ImportTarget[], skuId: number | null): ImportTarget | undefined {
  return skuId === null ? undefined : targets.find((p) => p.skus.some((s) => s.id === skuId));
}

/** Step 1: what to import where, from pasted text or a file. */
function UploadStep({ targets, skuId, onStaged }: { targets: ImportTarget[]; skuId: number | null; onStaged: (out: ImportOut) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<UploadValues>();
  const stage = useStageImport();
  const productId = Form.useWatch<number | undefined>('product_id', form);
  const source = Form.useWatch<UploadValues['source'] | undefined>('source', form) ?? 'paste';
  const format = Form.useWatch<KeyFormat | undefined>('format', form) ?? 'card_secret';
  const separator = Form.useWatch<string | undefined>('separator', form) ?? ',';
  const product = targets.find((p) => p.product_id === productId);
  const preset = targetOf(targets, skuId);

  const initial: UploadValues = {
    product_id: preset?.product_id,
    sku_id: preset ? (skuId ?? undefined) : undefined,
    format: 'card_secret',
    separator: ',',
    encoding: 'auto',
    has_header: false,
    source: 'paste',
    note: '',
  };

  const submit = (v: UploadValues) => {
    const file = v.file?.[0]?.originFileObj;
    const body: BodyInventoryStageImport = {
      sku_id: v.sku_id ?? 0,
      format: v.format,
      separator: v.separator,
      encoding: v.encoding,
      has_header: v.has_header,
      default_cost: v.default_cost?.trim() || undefined,
      note: v.note?.trim() ?? '',
      ...(v.source === 'file' ? { file } : { text: v.text ?? '' }),
    };
    stage.mutate(body, { onSuccess: onStaged });
  };

  if (targets.length === 0) return <Alert type="warning" showIcon message={t('inventoryImport.noTargets')} data-testid="no-targets" />;

  return (
    <Form<UploadValues> form={form} layout="vertical" requiredMark={false} initialValues={initial} onFinish={submit} data-testid="import-form">
      <Row gutter={16}>
        <Col xs={24} md={12}>
          <Form.Item name="product_id" label={t('inventoryImport.product')} rules={[{ required: true, message: t('inventoryImport.productRequired') }]}>
            <Select<number>
              showSearch
              optionFilterProp="label"
              placeholder={t('inventoryImport.chooseProduct')}
              options={targets.map((p) => ({ value: p.product_id, label: p.product_name }))}
              onChange={(id) => {
                const skus = targets.find((p) => p.product_id === id)?.skus ?? [];
                form.setFieldValue('sku_id', skus.length === 1 ? skus[0]?.id : undefined);
              }}
              data-testid="import-product"
            />
          </Form.Item>
        </Col>
        <Col xs={24} md={12}>
          <Form.Item name="sku_id" label={t('inventoryImport.sku')} rules={[{ required: true, message: t('inventoryImport.skuRequired') }]}>
            <Select<number>
              placeholder={t('inventoryImport.chooseSku')}
              disabled={!product}
              options={(product?.skus ?? []).map((s) => ({ value: s.id, label: t('inventoryImport.skuOption', { name: s.name, count: s.available }) }))}
              data-testid="import-sku"
            />
          </Form.Item>
        </Col>
        <Col xs={24} md={8}>
          <Form.Item name="format" label={t('inventoryImport.format')} extra={t('inventoryImport.example', { line: exampleLine(format, separator) })}>
            <Select<KeyFormat> options={FORMATS.map((f) => ({ value: f, label: t(`inventoryImport.formats.${f}`) }))} data-testid="import-format" />
          </Form.Item>
        </Col>
        <Col xs={24} md={5}>
          <Form.Item
            name="separator"
            label={t('inventoryImport.separator')}
            extra={t('inventoryImport.separatorHint')}
            rules={[{ required: true, max: 8, message: t('inventoryImport.separatorRequired') }]}
          >
            <AutoComplete options={SEPARATORS.map((s) => ({ value: s }))} maxLength={8} data-testid="import-separator" />
          </Form.Item>
        </Col>
        <Col xs={24} md={5}>
          <Form.Item name="encoding" label={t('inventoryImport.encoding')}>
            <Select<Encoding> options={ENCODINGS.map((e) => ({ value: e, label: t(`inventoryImport.encodings.${e}`) }))} data-testid="import-encoding" />
          </Form.Item>
        </Col>
        <Col xs={24} md={6}>
          <Form.Item name="has_header" label={t('inventoryImport.hasHeader')} valuePropName="checked">
            <Switch data-testid="import-has-header" />
          </Form.Item>
        </Col>
        <Col xs={24} md={8}>
          <Form.Item
            name="default_cost"
            label={t('inventoryImport.defaultCost')}
            extra={t('inventoryImport.defaultCostHint')}
            rules={[{ pattern: COST_PATTERN, message: t('inventoryImport.costInvalid') }]}
          >
            <Input prefix="¥" placeholder="0.00" data-testid="import-default-cost" />
          </Form.Item>
        </Col>
        <Col xs={24} md={16}>
          <Form.Item name="note" label={t('inventoryImport.note')}>
            <Input maxLength={255} placeholder={t('inventoryImport.notePlaceholder')} data-testid="import-note" />
          </Form.Item>
        </Col>
      </Row>
      <Form.Item name="source" label={t('inventoryImport.source')}>
        <Radio.Group optionType="button" buttonStyle="solid" data-testid="import-source">
          <Radio.Button value="paste" data-testid="source-paste">
            {t('inventoryImport.sourcePaste')}
          </Radio.Button>
          <Radio.Button value="file" data-testid="source-file">
            {t('inventoryImport.sourceFile')}
          </Radio.Button>
        </Radio.Group>
      </Form.Item>
      {source === 'paste' ? (
        <Form.Item name="text" rules={[{ required: true, whitespace: true, message: t('inventoryImport.textRequired') }]}>
          <Input.TextArea rows={8} placeholder={t('inventoryImport.textPlaceholder')} className="kameng-mono-small" data-testid="import-text" />
        </Form.Item>
      ) : (
        <Form.Item
          name="file"
          valuePropName="fileList"
          getValueFromEvent={(e: { fileList: UploadFile[] }) => e.fileList.slice(-1)}
          rules={[{ required: true, type: 'array', min: 1, message: t('inventoryImport.fileRequired') }]}
        >
          <Upload.Dragger beforeUpload={() => false} maxCount={1} accept=".txt,.csv,.xlsx" data-testid="import-file">
            <p className="ant-upload-drag-icon">
              <InboxOutlined />
            </p>
            <p className="ant-upload-text">{t('inventoryImport.fileDrop')}</p>
            <p className="ant-upload-hint">{t('inventoryImport.fileHint')}</p>
          </Upload.Dragger>
        </Form.Item>
      )}
      <ErrorAlert error={stage.error} testid="import-error" />
      <div style={{ marginTop: 16, display: 'flex', justifyContent: 'flex-end' }}>
        <Button type="primary" htmlType="submit" icon={<UploadOutlined />} loading={stage.isPending} data-testid="import-submit">
          {t('inventoryImport.submit')}
        </Button>
      </div>
    </Form>
  );
}

function Summary({ batch, target }: { batch: ImportOut; target: string }) {
  const { t } = useTranslation();
  return (
    <Descriptions size="small" column={{ xs: 1, md: 2, xl: 4 }} style={{ marginBottom: 16 }} data-testid="import-summary">
      <Descriptions.Item label={t('inventoryImport.target')}>{target}</Descriptions.Item>
      <Descriptions.Item label={t('inventoryImport.fileName')}>{batch.filename ?? t('inventory.pasted')}</Descriptions.Item>
      <Descriptions.Item label={t('inventoryImport.format')}>{t(`inventoryImport.formats.${batch.options.format}`)}</Descriptions.Item>
      <Descriptions.Item label={t('inventoryImport.separator')}>
        <code>{batch.options.separator === '\t' ? 'tab' : batch.options.separator}</code>
      </Descriptions.Item>
    </Descriptions>
  );
}

/** Step 2: the report — figures, a tag per problem kind, the problem lines; confirm or discard. */
function ReportStep({ batch, target, onDiscarded }: { batch: ImportOut; target: string; onDiscarded: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const confirm = useConfirmImport();
  const discard = useDiscardImport();

  if (batch.status === 'validating') {
    const percent = batch.progress && batch.progress.total > 0 ? Math.floor((batch.progress.done / batch.progress.total) * 100) : null;
    return (
      <div style={{ textAlign: 'center', padding: '48px 0' }} data-testid="import-validating">
        <Spin size="large" />
        <div style={{ marginTop: 16 }}>
          <Typography.Text type="secondary">{t('inventoryImport.validating')}</Typography.Text>
        </div>
        {percent !== null && <Progress percent={percent} style={{ maxWidth: 420, margin: '16px auto 0' }} />}
      </div>
    );
  }

  const problems = Object.entries(batch.problem_counts).filter(([, n]) => n > 0);
  const order = (kind: string) => (isProblemKind(kind) ? PROBLEM_KINDS.indexOf(kind) : PROBLEM_KINDS.length);
  problems.sort(([a], [b]) => order(a) - order(b));
  const problemTotal = problems.reduce((sum, [, n]) => sum + n, 0);

  return (
    <div data-testid="import-report">
      <Summary batch={batch} target={target} />
      <Row gutter={16} className="kameng-report-figures">
        <Col xs={8} md={4}>
          <Statistic title={t('inventoryImport.totalLines')} value={batch.total_lines} data-testid="report-total" />
        </Col>
        <Col xs={8} md={4}>
          <Statistic title={t('inventoryImport.validCount')} value={batch.valid_count} valueStyle={{ color: '#389e0d' }} data-testid="report-valid" />
        </Col>
        <Col xs={8} md={4}>
          <Statistic
            title={t('inventoryImport.problemLines')}
            value={problemTotal}
            valueStyle={problemTotal > 0 ? { color: '#d46b08' } : undefined}
            data-testid="report-problems"
          />
        </Col>
      </Row>
      <Space size={[8, 8]} wrap style={{ margin: '16px 0' }} data-testid="report-problem-tags">
        {problems.length === 0 ? (
          <Tag icon={<CheckCircleOutlined />} color="success">
            {t('inventoryImport.noProblems')}
          </Tag>
        ) : (
          problems.map(([kind, n]) => (
            <Tag key={kind} color={PROBLEM_COLORS[kind] ?? 'default'} data-testid={`problem-${kind}`}>
              {problemLabel(kind, t)} {n}
            </Tag>
          ))
        )}
      </Space>
      {batch.valid_count === 0 && <Alert type="warning" showIcon message={t('inventoryImport.nothingValid')} style={{ marginBottom: 16 }} data-testid="nothing-valid" />}
      {batch.samples.length > 0 && (
        <>
          <Typography.Title level={5}>{t('inventoryImport.samples')}</Typography.Title>
          <Table<ProblemSample>
            rowKey="line"
            size="small"
            dataSource={batch.samples}
            pagination={{ pageSize: 10, hideOnSinglePage: true, showSizeChanger: false }}
            columns={[
              { title: t('inventoryImport.line'), dataIndex: 'line', width: 90 },
              {
                title: t('inventoryImport.problem'),
                dataIndex: 'kind',
                width: 140,
                render: (kind: string) => <Tag color={PROBLEM_COLORS[kind] ?? 'default'}>{problemLabel(kind, t)}</Tag>,
              },
              {
                title: t('inventoryImport.content'),
                dataIndex: 'preview',
                render: (preview: string) => (preview ? <span className="kameng-mono-small">{preview}</span> : <Typography.Text type="secondary">—</Typography.Text>),
              },
            ]}
            data-testid="report-samples"
          />
        </>
      )}
      <ErrorAlert error={confirm.error ?? discard.error} testid="report-error" />
      <div style={{ marginTop: 24, display: 'flex', justifyContent: 'flex-end', gap: 8 }}>
        <Popconfirm
          title={t('inventoryImport.discardConfirm')}
          onConfirm={() =>
            discard.mutate(batch.id, {
              onSuccess: () => {
                void message.success(t('inventoryImport.discarded'));
                onDiscarded();
              },
            })
          }
          okButtonProps={{ 'data-testid': 'import-discard-confirm' }}
        >
          <Button loading={discard.isPending} data-testid="import-discard">
            {t('inventoryImport.discard')}
          </Button>
        </Popconfirm>
        <Button
          type="primary"
          disabled={batch.valid_count === 0}
          loading={confirm.isPending}
          onClick={() => confirm.mutate(batch.id)}
          data-testid="import-confirm"
        >
          {t('inventoryImport.confirm')}
          {batch.valid_count > 0 && ` (${batch.valid_count})`}
        </Button>
      </div>
    </div>
  );
}

/** Step 3: progress while a job imports, then the outcome. */
function ImportStep({ batch, target, onRestart }: { batch: ImportOut; target: string; onRestart: () => void }) {
  const { t } = useTranslation();
  const can = useCan();
  const revalidate = useRevalidateImport();
  const invalidateStock = useInvalidateStock();
  const done = batch.status === 'imported';

  // a job finished it while we were polling: the figures elsewhere are stale now
  useEffect(() => {
    if (done) void invalidateStock();
  }, [done, invalidateStock]);

  if (batch.status === 'queued') {
    const p = batch.progress;
    const percent = p && p.total > 0 ? Math.floor((p.done / p.total) * 100) : 0;
    return (
      <div style={{ padding: '32px 0', maxWidth: 560, margin: '0 auto', textAlign: 'center' }} data-testid="import-running">
        <Progress percent={percent} status="active" data-testid="import-progress" />
        <Typography.Text type="secondary">
          {p ? t('inventoryImport.importing', { done: p.done, total: p.total }) : t('inventoryImport.queued')}
        </Typography.Text>
      </div>
    );
  }

  if (batch.status === 'imported') {
    return (
      <div data-testid="import-done">
        <Result
          status="success"
          title={t('inventoryImport.importedTitle')}
          subTitle={t('inventoryImport.importedSub', { count: batch.imported_count, target })}
          extra={[
            can('inventory:read') && (
              <Link key="stock" to={`${INVENTORY_PATH}/${batch.product_id}?sku_id=${batch.sku_id}`}>
                <Button type="primary" data-testid="go-inventory">
                  {t('inventoryImport.viewInventory')}
                </Button>
              </Link>
            ),
            <Button key="more" onClick={onRestart} data-testid="import-more">
              {t('inventoryImport.importMore')}
            </Button>,
          ]}
        >
          <Descriptions size="small" column={1} style={{ maxWidth: 420, margin: '0 auto' }}>
            <Descriptions.Item label={t('inventory.importedCount')}>{batch.imported_count}</Descriptions.Item>
            <Descriptions.Item label={t('inventory.costTotal')}>{yuan(batch.cost_total)}</Descriptions.Item>
          </Descriptions>
        </Result>
      </div>
    );
  }

  // failed
  const stockChanged = batch.error_code === 'stock_changed';
  return (
    <div data-testid="import-failed">
      <Result
        status="error"
        title={t('inventoryImport.failedTitle')}
        subTitle={<span data-testid="import-failed-detail">{batch.error_detail ?? batch.error_code ?? ''}</span>}
        extra={[
          stockChanged && (
            <Button key="again" type="primary" icon={<ReloadOutlined />} loading={revalidate.isPending} onClick={() => revalidate.mutate(batch.id)} data-testid="import-revalidate">
              {t('inventoryImport.revalidate')}
            </Button>
          ),
          <Button key="restart" onClick={onRestart} data-testid="import-start-over">
            {t('inventoryImport.startOver')}
          </Button>,
        ]}
      >
        {stockChanged && <Alert type="warning" showIcon message={t('inventoryImport.stockChangedHint')} />}
        <ErrorAlert error={revalidate.error} testid="revalidate-error" />
      </Result>
    </div>
  );
}

function stepOf(batch: ImportOut | undefined): number {
  if (!batch) return 0;
  if (batch.status === 'validating' || batch.status === 'validated') return 1;
  return 2;
}

function numberParam(value: string | null): number | null {
  return value && /^\d+$/.test(value) ? Number(value) : null;
}

/** The three steps; the import being worked on is `?import_id=` (so a reload resumes it). */
function ImportWizard({ targets }: { targets: ImportTarget[] }) {
  const { t } = useTranslation();
  const [search, setSearch] = useSearchParams();
  const importId = numberParam(search.get('import_id'));
  const skuId = numberParam(search.get('sku_id'));
  const batch = useImport(importId);
  const names = skuLabels(targets);
  const current = importId === null ? undefined : batch.data;
  const step = stepOf(current);

  const restart = () => setSearch(current ? { sku_id: String(current.sku_id) } : {});
  const target = current ? (names.get(current.sku_id) ?? `#${current.sku_id}`) : '';

  let body;
  if (importId === null) {
    body = (
      <UploadStep
        key={skuId ?? 'none'}
        targets={targets}
        skuId={skuId}
        onStaged={(out) => setSearch({ sku_id: String(out.sku_id), import_id: String(out.id) })}
      />
    );
  } else if (batch.isPending) {
    body = <Skeleton active paragraph={{ rows: 6 }} />;
  } else if (!current) {
    body = (
      <>
        <ErrorAlert error={batch.error} testid="import-load-error" />
        <Button style={{ marginTop: 16 }} onClick={restart}>
          {t('inventoryImport.startOver')}
        </Button>
      </>
    );
  } else if (step === 1) {
    body = <ReportStep batch={current} target={target} onDiscarded={restart} />;
  } else if (current.status === 'discarded' || current.status === 'voided') {
    body = (
      <Result
        status="info"
        title={t(`inventory.statuses.${current.status}`)}
        extra={
          <Button type="primary" onClick={restart} data-testid="import-start-over">
            {t('inventoryImport.startOver')}
          </Button>
        }
      />
    );
  } else {
    body = <ImportStep batch={current} target={target} onRestart={restart} />;
  }

  const failed = current?.status === 'failed';
  return (
    <>
      <Steps
        current={step}
        status={failed ? 'error' : current?.status === 'imported' ? 'finish' : 'process'}
        items={[{ title: t('inventoryImport.stepUpload') }, { title: t('inventoryImport.stepReport') }, { title: t('inventoryImport.stepImport') }]}
        style={{ marginBottom: 24 }}
        data-testid="import-steps"
      />
      {body}
      {current && importRunning(current.status) && <span hidden data-testid="import-polling" />}
    </>
  );
}

/** 商品与库存 › 卡密导入: the import wizard and the import history (a key uploader's own). */
export function InventoryImportPage() {
  const { t } = useTranslation();
  const can = useCan();
  const [, setSearch] = useSearchParams();
  const [tab, setTab] = useState<'import' | 'history'>('import');
  const targets = useImportTargets();
  const seesAll = can('inventory:read');

  const resume = (b: ImportOut) => {
    setSearch({ sku_id: String(b.sku_id), import_id: String(b.id) });
    setTab('import');
  };

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }} data-testid="inventory-import-page">
      <PageHead title={t('inventoryImport.title')} subtitle={t('inventoryImport.subtitle')} />
      {!seesAll && <Alert type="info" showIcon message={t('inventoryImport.keyUploaderNote')} />}
      <Card className="kameng-card">
        <Tabs
          activeKey={tab}
          onChange={(key) => setTab(key === 'history' ? 'history' : 'import')}
          items={[
            {
              key: 'import',
              label: <span data-testid="tab-import">{t('inventoryImport.tabImport')}</span>,
              children: targets.isPending ? (
                <Skeleton active paragraph={{ rows: 8 }} />
              ) : targets.isError ? (
                <ErrorAlert error={targets.error} testid="targets-error" />
              ) : (
                <ImportWizard targets={targets.data} />
              ),
            },
            {
              key: 'history',
              label: <span data-testid="tab-history">{seesAll ? t('inventoryImport.tabAll') : t('inventoryImport.tabMine')}</span>,
              children:
                tab === 'history' ? (
                  <ImportsTable
                    filters={{}}
                    skuNames={skuLabels(targets.data)}
                    emptyText={t('inventoryImport.noImports')}
                    testid="import-history"
                    actions={(b) =>
                      b.status === 'validating' || b.status === 'validated' || b.status === 'queued' || b.status === 'failed' ? (
                        <Button type="link" size="small" onClick={() => resume(b)} data-testid={`resume-${b.id}`}>
                          {t('inventoryImport.resume')}
                        </Button>
                      ) : b.status === 'imported' && seesAll ? (
                        <Link to={`${INVENTORY_PATH}/${b.product_id}?sku_id=${b.sku_id}`}>{t('inventory.viewStock')}</Link>
                      ) : null
                    }
                  />
                ) : null,
            },
          ]}
        />
      </Card>
    </Space>
  );
}
