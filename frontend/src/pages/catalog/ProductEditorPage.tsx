import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import {
  Alert,
  App,
  Button,
  Card,
  Col,
  DatePicker,
  Descriptions,
  Divider,
  Form,
  Input,
  InputNumber,
  Result,
  Row,
  Select,
  Skeleton,
  Space,
  Steps,
  Switch,
  Table,
  Tag,
  TreeSelect,
  Typography,
  type FormInstance,
} from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';

import { ApiError, toApiError } from '../../api';
import type { BuyerField, PriceWarningOut, ProductIn, ProductOut, SkuIn } from '../../client';
import { PageHead } from '../../components/PageHead';
import { SupplierMappingsCard } from './SupplierMappings';
import { describeError } from '../../errorMessages';
import { useCategories, usePriceCheck, useProduct, useSaveProduct } from '../../queries/catalog';
import { useCan } from '../../queries/me';
import { categoryNames, categoryTreeData, DELIVERY_TYPES, priceInput, PRODUCT_STATUSES } from './catalogShared';

const PRODUCTS_PATH = '/catalog/products';
/** A price as the API takes it: up to 4 decimals, sent as a string. */
const PRICE_PATTERN = /^\d{1,8}(\.\d{1,4})?$/;
/** How long the editor waits after the last keystroke before asking for price hints. */
export const PRICE_CHECK_DELAY_MS = 400;
const ATTR_KEYS = ['face_value', 'region', 'server'] as const;

interface LevelPrice {
  level?: number | null;
  price?: string;
}

interface SkuValues {
  id?: number | null;
  name?: string;
  attrs?: Record<string, string>;
  face_value?: string;
  region?: string;
  server?: string;
  base_price?: string;
  cost_price?: string;
  market_price?: string;
  member_prices?: LevelPrice[];
  reseller_prices?: LevelPrice[];
  tier_prices?: LevelPrice[];
  active?: boolean;
  sort?: number;
}

interface BuyerFieldValues {
  key?: string;
  label?: string;
  type?: BuyerField['type'];
  required?: boolean;
  options?: string[];
  max_length?: number;
  pattern?: string | null;
}

export interface ProductValues {
  category_id?: number;
  name?: string;
  summary?: string;
  description_html?: string;
  images?: string[];
  tags?: string[];
  delivery_type?: ProductIn['delivery_type'];
  status?: NonNullable<ProductIn['status']>;
  list_at?: Dayjs | null;
  unlist_at?: Dayjs | null;
  min_qty?: number;
  max_qty?: number;
  per_user_limit?: number | null;
  stock_alert_threshold?: number;
  looping_keys?: boolean;
  buyer_fields?: BuyerFieldValues[];
  sort?: number;
  skus?: SkuValues[];
}

const STEP_FIELDS: string[][] = [
  ['category_id', 'name', 'summary', 'description_html', 'images', 'tags', 'delivery_type', 'status', 'list_at', 'unlist_at'],
  ['min_qty', 'max_qty', 'per_user_limit', 'stock_alert_threshold', 'looping_keys', 'buyer_fields'],
  ['skus'],
];

function table(rows: LevelPrice[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows ?? []) {
    if (r.level !== null && r.level !== undefined && r.price) out[String(r.level)] = r.price.trim();
  }
  return out;
}

function rowsOf(prices: Record<string, string>): LevelPrice[] {
  return Object.entries(prices).map(([level, price]) => ({ level: Number(level), price: priceInput(price) }));
}

/** The form's SKU as the API takes it. */
export function skuIn(sku: SkuValues, index: number): SkuIn {
  const known = new Set<string>(ATTR_KEYS);
  const attrs: Record<string, string> = Object.fromEntries(Object.entries(sku.attrs ?? {}).filter(([k]) => !known.has(k)));
  for (const key of ATTR_KEYS) {
    const value = sku[key]?.trim();
    if (value) attrs[key] = value;
  }
  const market = sku.market_price?.trim();
  return {
    ...(sku.id ? { id: sku.id } : {}),
    name: sku.name?.trim() ?? '',
    attrs,
    base_price: sku.base_price?.trim() ?? '',
    cost_price: sku.cost_price?.trim() || '0',
    market_price: market ? market : null,
    member_prices: table(sku.member_prices),
    reseller_prices: table(sku.reseller_prices),
    tier_prices: table(sku.tier_prices),
    active: sku.active ?? true,
    sort: sku.sort ?? index,
  };
}

function productIn(v: ProductValues): ProductIn {
  const scheduled = v.status === 'scheduled';
  return {
    category_id: v.category_id ?? 0,
    name: v.name?.trim() ?? '',
    summary: v.summary?.trim() ?? '',
    description_html: v.description_html ?? '',
    images: (v.images ?? []).map((u) => u.trim()).filter(Boolean),
    tags: (v.tags ?? []).map((u) => u.trim()).filter(Boolean),
    delivery_type: v.delivery_type ?? 'card_key',
    status: v.status ?? 'unlisted',
    list_at: scheduled && v.list_at ? v.list_at.toISOString() : null,
    unlist_at: scheduled && v.unlist_at ? v.unlist_at.toISOString() : null,
    min_qty: v.min_qty ?? 1,
    max_qty: v.max_qty ?? 100,
    per_user_limit: v.per_user_limit ?? null,
    stock_alert_threshold: v.stock_alert_threshold ?? 0,
    looping_keys: v.looping_keys ?? false,
    buyer_fields: (v.buyer_fields ?? []).map((f) => ({
      key: f.key?.trim() ?? '',
      label: f.label?.trim() ?? '',
      type: f.type ?? 'text',
      required: f.required ?? true,
      max_length: f.max_length ?? 64,
      pattern: f.pattern ?? null,
      options: f.type === 'select' ? (f.options ?? []) : [],
    })),
    sort: v.sort ?? 0,
    skus: (v.skus ?? []).map(skuIn),
  };
}

function initialValues(p: ProductOut | undefined): ProductValues {
  if (!p) {
    return {
      images: [],
      tags: [],
      delivery_type: 'card_key',
      status: 'unlisted',
      min_qty: 1,
      max_qty: 100,
      per_user_limit: null,
      stock_alert_threshold: 0,
      looping_keys: false,
      buyer_fields: [],
      sort: 0,
      skus: [{ name: '', cost_price: '0', member_prices: [], reseller_prices: [], tier_prices: [], active: true }],
    };
  }
  return {
    category_id: p.category_id,
    name: p.name,
    summary: p.summary,
    description_html: p.description_html,
    images: p.images,
    tags: p.tags,
    delivery_type: p.delivery_type,
    status: p.status,
    list_at: p.list_at ? dayjs(p.list_at) : null,
    unlist_at: p.unlist_at ? dayjs(p.unlist_at) : null,
    min_qty: p.min_qty,
    max_qty: p.max_qty,
    per_user_limit: p.per_user_limit,
    stock_alert_threshold: p.stock_alert_threshold,
    looping_keys: p.looping_keys,
    buyer_fields: p.buyer_fields.map((f) => ({ ...f })),
    sort: p.sort,
    skus: p.skus
      .filter((s) => s.active)
      .map((s) => ({
        id: s.id,
        name: s.name,
        attrs: s.attrs,
        face_value: s.attrs.face_value,
        region: s.attrs.region,
        server: s.attrs.server,
        base_price: priceInput(s.base_price),
        cost_price: priceInput(s.cost_price),
        market_price: s.market_price ? priceInput(s.market_price) : undefined,
        member_prices: rowsOf(s.member_prices),
        reseller_prices: rowsOf(s.reseller_prices),
        tier_prices: rowsOf(s.tier_prices),
        active: s.active,
        sort: s.sort,
      })),
  };
}

function useDebounced<T>(value: T, ms: number): T {
  const [current, setCurrent] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setCurrent(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return current;
}

/** The warning's text in the UI language, e.g. "基础价：该价格低于市场均价10%". */
export function useWarningText(): (w: PriceWarningOut) => string {
  const { t, i18n } = useTranslation();
  const english = i18n.language.startsWith('en');
  return (w) => {
    const [kind, level] = w.price_label.split(':');
    const label =
      kind === 'member'
        ? t('catalog.memberPriceLabel', { level })
        : kind === 'reseller'
          ? t('catalog.resellerPriceLabel', { level })
          : kind === 'tier'
            ? t('catalog.tierPriceLabel', { level })
            : t('catalog.basePrice');
    return `${label}${english ? ': ' : '：'}${english ? w.message_en : w.message_zh}`;
  };
}

/** Live hints (`catalog:price_check`) for SKU `index`, asked after typing stops. */
function SkuPriceHints({ form, index }: { form: FormInstance<ProductValues>; index: number }) {
  const { t } = useTranslation();
  const text = useWarningText();
  const sku = Form.useWatch<SkuValues | undefined>(['skus', index], form);
  const wanted = sku && sku.base_price && PRICE_PATTERN.test(sku.base_price.trim()) ? JSON.stringify(skuIn({ ...sku, name: sku.name || 'SKU' }, index)) : null;
  const asked = useDebounced(wanted, PRICE_CHECK_DELAY_MS);
  const body = useMemo(() => (asked ? (JSON.parse(asked) as SkuIn) : null), [asked]);
  const check = usePriceCheck(body);
  if (!body || !check.data) return <div data-testid={`sku-hints-${index}`} />;
  const all = [...check.data.below_cost, ...check.data.hints];
  return (
    <div data-testid={`sku-hints-${index}`}>
      {all.length === 0 ? (
        <Typography.Text type="success">{t('catalog.priceOk')}</Typography.Text>
      ) : (
        <Space direction="vertical" size={4} style={{ width: '100%' }}>
          {all.map((w, i) => (
            <Alert key={i} type={w.code === 'below_cost' ? 'error' : 'warning'} showIcon message={text(w)} data-testid="price-hint" />
          ))}
        </Space>
      )}
    </div>
  );
}

function PriceTable({ name, keyLabel, keyMin, disabled, testid }: { name: (string | number)[]; keyLabel: string; keyMin: number; disabled: boolean; testid: string }) {
  const { t } = useTranslation();
  return (
    <Form.List name={name}>
      {(fields, { add, remove }) => (
        <Space direction="vertical" size={4} style={{ width: '100%' }}>
          {fields.map((field) => (
            <Space key={field.key} align="baseline" size={4}>
              <Form.Item name={[field.name, 'level']} rules={[{ required: true, message: t('catalog.required') }]} noStyle>
                <InputNumber min={keyMin} max={100000} precision={0} placeholder={keyLabel} disabled={disabled} style={{ width: 110 }} />
              </Form.Item>
              <Form.Item name={[field.name, 'price']} rules={[{ required: true, pattern: PRICE_PATTERN, message: t('catalog.priceInvalid') }]} noStyle>
                <Input prefix="¥" placeholder="0.00" disabled={disabled} style={{ width: 130 }} />
              </Form.Item>
              <Button type="text" size="small" icon={<DeleteOutlined />} disabled={disabled} onClick={() => remove(field.name)} aria-label={t('catalog.delete')} />
            </Space>
          ))}
          <Button type="dashed" size="small" icon={<PlusOutlined />} disabled={disabled} onClick={() => add({})} data-testid={testid}>
            {t('catalog.addRow')}
          </Button>
        </Space>
      )}
    </Form.List>
  );
}

function SkusStep({ form, pricing }: { form: FormInstance<ProductValues>; pricing: boolean }) {
  const { t } = useTranslation();
  const priceRule = { pattern: PRICE_PATTERN, message: t('catalog.priceInvalid') };
  return (
    <Form.List name="skus" rules={[{ validator: async (_, v: unknown[]) => (v.length > 0 ? undefined : Promise.reject(new Error(t('catalog.skuNeeded')))) }]}>
      {(fields, { add, remove }, { errors }) => (
        <Space direction="vertical" size={16} style={{ width: '100%' }}>
          {!pricing && <Alert type="info" showIcon message={t('catalog.noPricingPermission')} />}
          {fields.map((field, index) => (
            <Card
              key={field.key}
              size="small"
              title={t('catalog.skuN', { n: index + 1 })}
              extra={
                fields.length > 1 && (
                  <Button type="text" danger size="small" icon={<DeleteOutlined />} onClick={() => remove(field.name)} data-testid={`sku-remove-${index}`}>
                    {t('catalog.delete')}
                  </Button>
                )
              }
              data-testid={`sku-${index}`}
            >
              <Row gutter={12}>
                <Col xs={24} md={6}>
                  <Form.Item name={[field.name, 'name']} label={t('catalog.skuName')} rules={[{ required: true, whitespace: true, max: 64, message: t('catalog.nameRequired') }]}>
                    <Input maxLength={64} data-testid={`sku-name-${index}`} />
                  </Form.Item>
                </Col>
                <Col xs={24} md={6}>
                  <Form.Item name={[field.name, 'face_value']} label={t('catalog.faceValue')}>
                    <Input maxLength={64} data-testid={`sku-face-${index}`} />
                  </Form.Item>
                </Col>
                <Col xs={24} md={6}>
                  <Form.Item name={[field.name, 'region']} label={t('catalog.region')}>
                    <Input maxLength={64} />
                  </Form.Item>
                </Col>
                <Col xs={24} md={6}>
                  <Form.Item name={[field.name, 'server']} label={t('catalog.server')}>
                    <Input maxLength={64} />
                  </Form.Item>
                </Col>
                <Col xs={24} md={6}>
                  <Form.Item name={[field.name, 'base_price']} label={t('catalog.basePrice')} rules={[{ required: true, message: t('catalog.priceInvalid') }, priceRule]}>
                    <Input prefix="¥" disabled={!pricing} data-testid={`sku-base-${index}`} />
                  </Form.Item>
                </Col>
                <Col xs={24} md={6}>
                  <Form.Item name={[field.name, 'cost_price']} label={t('catalog.costPrice')} rules={[priceRule]}>
                    <Input prefix="¥" disabled={!pricing} data-testid={`sku-cost-${index}`} />
                  </Form.Item>
                </Col>
                <Col xs={24} md={6}>
                  <Form.Item name={[field.name, 'market_price']} label={t('catalog.marketPrice')} rules={[priceRule]}>
                    <Input prefix="¥" disabled={!pricing} data-testid={`sku-market-${index}`} />
                  </Form.Item>
                </Col>
              </Row>
              <Row gutter={12}>
                <Col xs={24} md={8}>
                  <Form.Item label={t('catalog.memberPrices')}>
                    <PriceTable name={[field.name, 'member_prices']} keyLabel={t('catalog.memberLevel')} keyMin={1} disabled={!pricing} testid={`sku-add-member-${index}`} />
                  </Form.Item>
                </Col>
                <Col xs={24} md={8}>
                  <Form.Item label={t('catalog.resellerPrices')}>
                    <PriceTable name={[field.name, 'reseller_prices']} keyLabel={t('catalog.tier')} keyMin={1} disabled={!pricing} testid={`sku-add-reseller-${index}`} />
                  </Form.Item>
                </Col>
                <Col xs={24} md={8}>
                  <Form.Item label={t('catalog.tierPrices')} extra={t('catalog.tierPricesHint')}>
                    <PriceTable name={[field.name, 'tier_prices']} keyLabel={t('catalog.minQty')} keyMin={2} disabled={!pricing} testid={`sku-add-tier-${index}`} />
                  </Form.Item>
                </Col>
              </Row>
              <SkuPriceHints form={form} index={index} />
            </Card>
          ))}
          <Button
            type="dashed"
            icon={<PlusOutlined />}
            onClick={() => add({ name: '', cost_price: '0', member_prices: [], reseller_prices: [], tier_prices: [], active: true })}
            data-testid="sku-add"
          >
            {t('catalog.addSku')}
          </Button>
          <Form.ErrorList errors={errors} />
        </Space>
      )}
    </Form.List>
  );
}

function BasicsStep() {
  const { t } = useTranslation();
  const categories = useCategories();
  const status = Form.useWatch<ProductValues['status']>('status');
  return (
    <>
      <Row gutter={16}>
        <Col xs={24} md={12}>
          <Form.Item name="category_id" label={t('catalog.category')} rules={[{ required: true, message: t('catalog.categoryRequired') }]}>
            <TreeSelect<number> treeDefaultExpandAll treeData={categoryTreeData(categories.data)} placeholder={t('catalog.chooseCategory')} data-testid="product-category" />
          </Form.Item>
        </Col>
        <Col xs={24} md={12}>
          <Form.Item name="name" label={t('catalog.productName')} rules={[{ required: true, whitespace: true, max: 128, message: t('catalog.nameRequired') }]}>
            <Input maxLength={128} data-testid="product-name" />
          </Form.Item>
        </Col>
      </Row>
      <Form.Item name="summary" label={t('catalog.summary')} rules={[{ max: 255 }]}>
        <Input maxLength={255} data-testid="product-summary" />
      </Form.Item>
      <Form.Item name="description_html" label={t('catalog.description')} extra={t('catalog.descriptionHint')}>
        <Input.TextArea rows={4} data-testid="product-description" />
      </Form.Item>
      <Form.Item label={t('catalog.images')}>
        <Form.List name="images">
          {(fields, { add, remove }) => (
            <Space direction="vertical" size={4} style={{ width: '100%' }}>
              {fields.map((field, index) => (
                <Space.Compact key={field.key} style={{ width: '100%' }}>
                  <Form.Item name={field.name} noStyle rules={[{ type: 'url', message: t('catalog.urlInvalid') }]}>
                    <Input placeholder="https://" maxLength={500} data-testid={`product-image-${index}`} />
                  </Form.Item>
                  <Button icon={<DeleteOutlined />} onClick={() => remove(field.name)} aria-label={t('catalog.delete')} />
                </Space.Compact>
              ))}
              {fields.length < 10 && (
                <Button type="dashed" size="small" icon={<PlusOutlined />} onClick={() => add('')} data-testid="product-image-add">
                  {t('catalog.addImage')}
                </Button>
              )}
            </Space>
          )}
        </Form.List>
      </Form.Item>
      <Row gutter={16}>
        <Col xs={24} md={12}>
          <Form.Item name="tags" label={t('catalog.tags')} extra={t('catalog.tagsHint')}>
            <Select mode="tags" tokenSeparators={[',', '，']} maxCount={20} open={false} suffixIcon={null} data-testid="product-tags" />
          </Form.Item>
        </Col>
        <Col xs={24} md={12}>
          <Form.Item name="delivery_type" label={t('catalog.deliveryType')} rules={[{ required: true }]}>
            <Select options={DELIVERY_TYPES.map((d) => ({ value: d, label: t(`catalog.delivery.${d}`) }))} data-testid="product-delivery" />
          </Form.Item>
        </Col>
      </Row>
      <Row gutter={16}>
        <Col xs={24} md={8}>
          <Form.Item name="status" label={t('catalog.status')}>
            <Select options={PRODUCT_STATUSES.map((s) => ({ value: s, label: t(`catalog.statuses.${s}`) }))} data-testid="product-status" />
          </Form.Item>
        </Col>
        {status === 'scheduled' && (
          <>
            <Col xs={24} md={8}>
              <Form.Item
                name="list_at"
                label={t('catalog.listAt')}
                dependencies={['unlist_at']}
                rules={[
                  ({ getFieldValue }) => ({
                    validator: (_, v: Dayjs | null) =>
                      !v && !getFieldValue('unlist_at') ? Promise.reject(new Error(t('catalog.scheduleNeeded'))) : Promise.resolve(),
                  }),
                ]}
              >
                <DatePicker showTime style={{ width: '100%' }} data-testid="product-list-at" />
              </Form.Item>
            </Col>
            <Col xs={24} md={8}>
              <Form.Item
                name="unlist_at"
                label={t('catalog.unlistAt')}
                dependencies={['list_at']}
                rules={[
                  ({ getFieldValue }) => ({
                    validator: (_, v: Dayjs | null) => {
                      const from = getFieldValue('list_at') as Dayjs | null;
                      return v && from && !v.isAfter(from) ? Promise.reject(new Error(t('catalog.unlistAfterList'))) : Promise.resolve();
                    },
                  }),
                ]}
              >
                <DatePicker showTime style={{ width: '100%' }} data-testid="product-unlist-at" />
              </Form.Item>
            </Col>
          </>
        )}
      </Row>
    </>
  );
}

const BUYER_FIELD_TYPES = ['text', 'number', 'email', 'phone', 'select'] as const;

function RulesStep() {
  const { t } = useTranslation();
  return (
    <>
      <Row gutter={16}>
        <Col xs={12} md={6}>
          <Form.Item name="min_qty" label={t('catalog.minQty')} rules={[{ required: true }]}>
            <InputNumber min={1} max={100000} precision={0} style={{ width: '100%' }} data-testid="product-min-qty" />
          </Form.Item>
        </Col>
        <Col xs={12} md={6}>
          <Form.Item
            name="max_qty"
            label={t('catalog.maxQty')}
            dependencies={['min_qty']}
            rules={[
              { required: true },
              ({ getFieldValue }) => ({
                validator: (_, v: number) =>
                  v < (getFieldValue('min_qty') as number) ? Promise.reject(new Error(t('catalog.maxBelowMin'))) : Promise.resolve(),
              }),
            ]}
          >
            <InputNumber min={1} max={100000} precision={0} style={{ width: '100%' }} data-testid="product-max-qty" />
          </Form.Item>
        </Col>
        <Col xs={12} md={6}>
          <Form.Item name="per_user_limit" label={t('catalog.perUserLimit')} extra={t('catalog.perUserLimitHint')}>
            <InputNumber min={1} max={100000} precision={0} style={{ width: '100%' }} data-testid="product-per-user" />
          </Form.Item>
        </Col>
        <Col xs={12} md={6}>
          <Form.Item name="stock_alert_threshold" label={t('catalog.stockAlert')}>
            <InputNumber min={0} max={10000000} precision={0} style={{ width: '100%' }} data-testid="product-stock-alert" />
          </Form.Item>
        </Col>
      </Row>
      <Form.Item name="looping_keys" label={t('catalog.loopingKeys')} valuePropName="checked" extra={t('catalog.loopingKeysHint')}>
        <Switch data-testid="product-looping" />
      </Form.Item>
      <Divider orientation="left" plain>
        {t('catalog.buyerFields')}
      </Divider>
      <Form.List name="buyer_fields">
        {(fields, { add, remove }) => (
          <Space direction="vertical" size={8} style={{ width: '100%' }}>
            {fields.map((field, index) => (
              <Row key={field.key} gutter={8} align="top" data-testid={`buyer-field-${index}`}>
                <Col xs={12} md={4}>
                  <Form.Item name={[field.name, 'key']} rules={[{ required: true, pattern: /^[a-z][a-z0-9_]{0,31}$/, message: t('catalog.fieldKeyInvalid') }]}>
                    <Input placeholder={t('catalog.fieldKey')} data-testid={`buyer-field-key-${index}`} />
                  </Form.Item>
                </Col>
                <Col xs={12} md={5}>
                  <Form.Item name={[field.name, 'label']} rules={[{ required: true, whitespace: true, max: 64, message: t('catalog.nameRequired') }]}>
                    <Input placeholder={t('catalog.fieldLabel')} data-testid={`buyer-field-label-${index}`} />
                  </Form.Item>
                </Col>
                <Col xs={12} md={4}>
                  <Form.Item name={[field.name, 'type']}>
                    <Select options={BUYER_FIELD_TYPES.map((ty) => ({ value: ty, label: t(`catalog.fieldTypes.${ty}`) }))} data-testid={`buyer-field-type-${index}`} />
                  </Form.Item>
                </Col>
                <Col xs={12} md={3}>
                  <Form.Item name={[field.name, 'required']} valuePropName="checked">
                    <Switch checkedChildren={t('catalog.fieldRequired')} unCheckedChildren={t('catalog.fieldOptional')} />
                  </Form.Item>
                </Col>
                <Col xs={20} md={7}>
                  <Form.Item noStyle shouldUpdate>
                    {({ getFieldValue }) =>
                      getFieldValue(['buyer_fields', field.name, 'type']) === 'select' ? (
                        <Form.Item name={[field.name, 'options']} rules={[{ required: true, type: 'array', min: 1, message: t('catalog.optionsNeeded') }]}>
                          <Select mode="tags" open={false} suffixIcon={null} tokenSeparators={[',', '，']} placeholder={t('catalog.fieldOptions')} data-testid={`buyer-field-options-${index}`} />
                        </Form.Item>
                      ) : null
                    }
                  </Form.Item>
                </Col>
                <Col xs={4} md={1}>
                  <Button type="text" danger icon={<DeleteOutlined />} onClick={() => remove(field.name)} aria-label={t('catalog.delete')} />
                </Col>
              </Row>
            ))}
            {fields.length < 10 && (
              <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ type: 'text', required: true, options: [] })} data-testid="buyer-field-add">
                {t('catalog.addBuyerField')}
              </Button>
            )}
          </Space>
        )}
      </Form.List>
    </>
  );
}

function ReviewStep({ form }: { form: FormInstance<ProductValues> }) {
  const { t } = useTranslation();
  const categories = useCategories();
  const values = Form.useWatch([], { form, preserve: true }) as ProductValues | undefined;
  if (!values) return null;
  const body = productIn(values);
  const names = categoryNames(categories.data);
  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }} data-testid="product-review">
      <Descriptions bordered size="small" column={{ xs: 1, md: 2 }}>
        <Descriptions.Item label={t('catalog.productName')}>{body.name || '—'}</Descriptions.Item>
        <Descriptions.Item label={t('catalog.category')}>{names.get(body.category_id) ?? '—'}</Descriptions.Item>
        <Descriptions.Item label={t('catalog.deliveryType')}>{t(`catalog.delivery.${body.delivery_type}`)}</Descriptions.Item>
        <Descriptions.Item label={t('catalog.status')}>{t(`catalog.statuses.${body.status ?? 'unlisted'}`)}</Descriptions.Item>
        <Descriptions.Item label={t('catalog.quantity')}>
          {body.min_qty} – {body.max_qty}
          {body.per_user_limit ? ` · ${t('catalog.perUserLimit')} ${body.per_user_limit}` : ''}
        </Descriptions.Item>
        <Descriptions.Item label={t('catalog.tags')}>
          {(body.tags ?? []).length > 0 ? (body.tags ?? []).map((tg) => <Tag key={tg}>{tg}</Tag>) : '—'}
        </Descriptions.Item>
        <Descriptions.Item label={t('catalog.buyerFields')} span={2}>
          {(body.buyer_fields ?? []).map((f) => f.label).join('、') || '—'}
        </Descriptions.Item>
      </Descriptions>
      <Table<SkuIn>
        size="small"
        rowKey={(s) => s.name}
        pagination={false}
        dataSource={body.skus}
        columns={[
          { title: t('catalog.skuName'), dataIndex: 'name' },
          { title: t('catalog.basePrice'), dataIndex: 'base_price', render: (v: string) => `¥${priceInput(v)}` },
          { title: t('catalog.costPrice'), dataIndex: 'cost_price', render: (v: string) => `¥${priceInput(v)}` },
          { title: t('catalog.marketPrice'), dataIndex: 'market_price', render: (v: string | null) => (v ? `¥${priceInput(v)}` : '—') },
          {
            title: t('catalog.priceRules'),
            key: 'rules',
            render: (_, s) =>
              Object.keys(s.member_prices ?? {}).length + Object.keys(s.reseller_prices ?? {}).length + Object.keys(s.tier_prices ?? {}).length,
          },
        ]}
      />
    </Space>
  );
}

function SavedResult({ id, warnings }: { id: number; warnings: PriceWarningOut[] }) {
  const { t } = useTranslation();
  const text = useWarningText();
  const navigate = useNavigate();
  return (
    <Result
      status={warnings.length > 0 ? 'warning' : 'success'}
      title={t('catalog.productSaved')}
      subTitle={warnings.length > 0 ? t('catalog.savedWithWarnings') : undefined}
      extra={[
        <Button type="primary" key="list" onClick={() => void navigate(PRODUCTS_PATH)} data-testid="back-to-list">
          {t('catalog.backToList')}
        </Button>,
        <Button key="edit" onClick={() => void navigate(`${PRODUCTS_PATH}/${id}`)} data-testid="keep-editing">
          {t('catalog.keepEditing')}
        </Button>,
      ]}
    >
      {warnings.length > 0 && (
        <Space direction="vertical" size={4} style={{ width: '100%' }} data-testid="save-warnings">
          {warnings.map((w, i) => (
            <Alert key={i} type="warning" showIcon message={`${w.sku} · ${text(w)}`} />
          ))}
        </Space>
      )}
    </Result>
  );
}

function Wizard({ product }: { product: ProductOut | undefined }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const can = useCan();
  const writable = can('catalog:write');
  const pricing = can('catalog:pricing');
  const [form] = Form.useForm<ProductValues>();
  const [step, setStep] = useState(0);
  const save = useSaveProduct();
  const [belowCost, setBelowCost] = useState<ApiError | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<{ id: number; warnings: PriceWarningOut[] } | null>(null);
  const id = product?.id ?? null;

  const steps = [t('catalog.stepBasics'), t('catalog.stepRules'), t('catalog.stepSkus'), t('catalog.stepReview')];

  const next = async () => {
    try {
      await form.validateFields(STEP_FIELDS[step], { recursive: true });
      setStep(step + 1);
    } catch {
      // the fields show their own errors
    }
  };

  const submit = async (confirm: boolean) => {
    setError(null);
    try {
      await form.validateFields({ recursive: true });
    } catch (e) {
      const first = (e as { errorFields?: { name: (string | number)[] }[] }).errorFields?.[0]?.name[0];
      const at = STEP_FIELDS.findIndex((names) => names.includes(String(first)));
      if (at >= 0) setStep(at);
      return;
    }
    // the whole store: SKU ids and other attributes have no field of their own
    const body = { ...productIn(form.getFieldsValue(true) as ProductValues), confirm_below_cost: confirm };
    save.mutate(
      { id, body },
      {
        onSuccess: (out) => {
          setBelowCost(null);
          void message.success(t('catalog.productSaved'));
          setSaved({ id: out.product.id, warnings: out.warnings });
        },
        onError: (e) => {
          const problem = toApiError(e);
          if (problem.code === 'price_below_cost') setBelowCost(problem);
          else setError(describeError(problem, t));
        },
      },
    );
  };

  if (saved) return <SavedResult id={saved.id} warnings={saved.warnings} />;

  return (
    <Card className="kameng-card">
      <Steps current={step} onChange={(s) => (s < step ? setStep(s) : void next())} items={steps.map((title) => ({ title }))} data-testid="product-steps" style={{ marginBottom: 24 }} />
      <Form<ProductValues> form={form} layout="vertical" requiredMark={false} initialValues={initialValues(product)} disabled={!writable} data-testid="product-form">
        <div hidden={step !== 0}>
          <BasicsStep />
        </div>
        <div hidden={step !== 1}>
          <RulesStep />
        </div>
        <div hidden={step !== 2}>
          <SkusStep form={form} pricing={pricing} />
        </div>
        {step === 3 && <ReviewStep form={form} />}
      </Form>
      {belowCost && (
        <Alert
          type="error"
          showIcon
          style={{ marginTop: 16 }}
          message={t('apiErrors.price_below_cost')}
          description={belowCost.detail}
          data-testid="below-cost-alert"
          action={
            <Button danger size="small" loading={save.isPending} onClick={() => void submit(true)} data-testid="save-anyway">
              {t('catalog.saveAnyway')}
            </Button>
          }
        />
      )}
      {error && <Alert type="error" showIcon style={{ marginTop: 16 }} message={error} data-testid="product-save-error" />}
      <div className="kameng-wizard-actions" style={{ marginTop: 24, display: 'flex', justifyContent: 'space-between' }}>
        <Link to={PRODUCTS_PATH}>{t('catalog.backToList')}</Link>
        <Space>
          {step > 0 && (
            <Button onClick={() => setStep(step - 1)} data-testid="wizard-prev">
              {t('catalog.prev')}
            </Button>
          )}
          {step < 3 && (
            <Button type="primary" onClick={() => void next()} data-testid="wizard-next">
              {t('catalog.next')}
            </Button>
          )}
          {step === 3 && writable && (
            <Button type="primary" loading={save.isPending} onClick={() => void submit(false)} data-testid="product-save">
              {t('catalog.save')}
            </Button>
          )}
        </Space>
      </div>
    </Card>
  );
}

/** /catalog/products/new and /catalog/products/:id: the product wizard. */
export function ProductEditorPage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = params.id && /^\d+$/.test(params.id) ? Number(params.id) : null;
  const product = useProduct(id);
  const can = useCan();
  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead title={id === null ? t('catalog.createProduct') : t('catalog.editProduct', { name: product.data?.name ?? `#${id}` })} subtitle={t('catalog.editorSubtitle')} />
      {id !== null && product.isPending ? (
        <Card className="kameng-card">
          <Skeleton active paragraph={{ rows: 8 }} />
        </Card>
      ) : id !== null && product.isError ? (
        <Alert type="error" showIcon message={describeError(toApiError(product.error), t)} />
      ) : (
        <Wizard key={id ?? 'new'} product={product.data} />
      )}
      {product.data && can('suppliers:read') && <SupplierMappingsCard skus={product.data.skus} />}
    </Space>
  );
}
