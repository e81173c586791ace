import { ArrowLeftOutlined, ShoppingCartOutlined, WalletOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Divider, Form, Input, InputNumber, Radio, Result, Row, Select, Skeleton, Space, Tag, Typography } from 'antd';
import type { FormInstance, Rule } from 'antd/es/form';
import type { TFunction } from 'i18next';
import { useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';

import { ApiError, toApiError } from '../../api';
import { browser } from '../../browser';
import type { BuyerField, OrderIn, ShopProductOut, ShopSkuOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { fieldName } from '../../errorMessages';
import { localizedDetail, yuan } from '../../format';
import { MY_WALLET_PATH, myOrderPath, SHOP_PATH } from '../../paths';
import { useCreateOrder, type PayMethod } from '../../queries/orders';
import { useQuote, useShopProduct } from '../../queries/shop';
import { useMyWallet } from '../../queries/wallet';
import { cents, orderErrorText } from '../orders/ordersShared';
import { ProductPicture } from './ShopPage';

interface Values {
  sku_id?: number;
  quantity?: number | null;
  pay_method: PayMethod;
  buyer_input: Record<string, string | undefined>;
}

/** Refusals that have a sentence of their own at checkout. */
const CHECKOUT_CODES = new Set(['sold_out', 'insufficient_balance', 'bad_buyer_input', 'payment_unavailable', 'not_found', 'idempotency_in_progress']);

/**
 * Did the API answer this attempt for good? Then sending the same form again is a new attempt
 * (a new Idempotency-Key — the old one would replay the refusal). No answer (network, 5xx) or
 * "still running": the same attempt, the same key, so a retry can never buy twice.
 */
function answered(error: ApiError): boolean {
  if (error.status < 400 || error.status >= 500) return false;
  return error.code !== 'idempotency_in_progress' && error.status !== 408 && error.status !== 429;
}

/** The same checks as the API's (orders/service.py: check_buyer_input), so most mistakes are
 * caught before sending. */
function fieldRules(field: BuyerField, t: TFunction): Rule[] {
  const rules: Rule[] = [];
  if (field.required ?? true) {
    const message = field.type === 'select' ? t('shop.fieldChoose', { label: field.label }) : t('shop.fieldRequired', { label: field.label });
    rules.push({ required: true, whitespace: true, message });
  }
  const max = field.max_length ?? 64;
  rules.push({ max, message: t('shop.fieldTooLong', { max }) });
  const check = (pattern: RegExp, message: string): Rule => ({
    validator: (_, value: string | undefined) => {
      const text = (value ?? '').trim();
      return !text || pattern.test(text) ? Promise.resolve() : Promise.reject(new Error(message));
    },
  });
  if (field.type === 'number') rules.push(check(/^-?\d+(\.\d+)?$/, t('shop.fieldNumber')));
  if (field.type === 'email') rules.push(check(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, t('shop.fieldEmail')));
  if (field.type === 'phone') rules.push(check(/^\+?[0-9 -]{5,20}$/, t('shop.fieldPhone')));
  if (field.pattern && field.type !== 'select') {
    try {
      rules.push(check(new RegExp(`^(?:${field.pattern})$`), t('shop.fieldPattern')));
    } catch {
      // a pattern JavaScript cannot read: the API checks it
    }
  }
  return rules;
}

/** One buyer field's input; Form.Item hands it `value` and `onChange`. */
function BuyerFieldInput({ field, t, ...control }: { field: BuyerField; t: TFunction; value?: string; onChange?: (value: unknown) => void }) {
  const testid = `buyer-field-${field.key}`;
  if (field.type === 'select') {
    return (
      <Select
        {...control}
        placeholder={t('shop.selectPlaceholder')}
        options={(field.options ?? []).map((o) => ({ value: o, label: o }))}
        data-testid={testid}
      />
    );
  }
  const inputMode = field.type === 'number' ? 'decimal' : field.type === 'phone' ? 'tel' : field.type === 'email' ? 'email' : undefined;
  return <Input {...control} maxLength={field.max_length ?? 64} inputMode={inputMode} autoComplete="off" data-testid={testid} />;
}

/** "member:1" → 会员价, "tier:10" → 满 10 件优惠价; nothing for the base price. */
function RuleTag({ rule }: { rule: string }) {
  const { t } = useTranslation();
  const [kind, arg] = rule.split(':');
  if (kind === 'member' || kind === 'reseller') return <Tag color="gold">{t(`shop.priceRules.${kind}`)}</Tag>;
  if (kind === 'tier') return <Tag color="green">{t('shop.priceRules.tier', { count: Number(arg) })}</Tag>;
  return null;
}

/** The most one order of this SKU may ask for: the product's bound, the per-buyer limit and
 * the stock (when counted). */
function maxQuantity(product: ShopProductOut, sku: ShopSkuOut | undefined): number {
  const bounds = [product.max_qty];
  if (product.per_user_limit !== null) bounds.push(product.per_user_limit);
  if (sku?.available !== null && sku?.available !== undefined) bounds.push(Math.max(sku.available, product.min_qty));
  return Math.max(product.min_qty, Math.min(...bounds));
}

function Checkout({ product }: { product: ShopProductOut }) {
  const { t, i18n } = useTranslation();
  const english = i18n.language === 'en';
  const navigate = useNavigate();
  const [form] = Form.useForm<Values>();
  const create = useCreateOrder();
  const wallet = useMyWallet();
  const attempt = useRef<{ key: string; body: string } | null>(null);
  const [leaving, setLeaving] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const firstInStock = product.skus.find((s) => s.in_stock) ?? product.skus[0];
  const skuId = Form.useWatch<number | undefined>('sku_id', form) ?? firstInStock?.id;
  const quantity = Form.useWatch<number | null | undefined>('quantity', form) ?? product.min_qty;
  const payMethod = Form.useWatch<PayMethod | undefined>('pay_method', form) ?? 'balance';
  const sku = product.skus.find((s) => s.id === skuId);
  const max = maxQuantity(product, sku);
  const validQuantity = Number.isInteger(quantity) && quantity >= product.min_qty && quantity <= max ? quantity : null;
  const quote = useQuote(sku?.in_stock ? sku.id : null, validQuantity);
  const total = quote.data && quote.data.sku_id === sku?.id ? quote.data : null;
  const balance = cents(wallet.data?.balance);
  const due = cents(total?.total);
  const short = payMethod === 'balance' && balance !== null && due !== null && balance < due;
  const busy = create.isPending || leaving;

  const submit = (values: Values) => {
    if (busy || !sku) return; // never twice
    const buyerInput: Record<string, string> = {};
    for (const field of product.buyer_fields) {
      const value = (values.buyer_input[field.key] ?? '').trim();
      if (value) buyerInput[field.key] = value;
    }
    const body: OrderIn = { sku_id: sku.id, quantity: values.quantity ?? product.min_qty, pay_method: values.pay_method, buyer_input: buyerInput };
    const fingerprint = JSON.stringify(body);
    if (attempt.current?.body !== fingerprint) attempt.current = { key: browser.uuid(), body: fingerprint };
    setError(null);
    create.mutate(
      { body, idempotencyKey: attempt.current.key },
      {
        onSuccess: (order) => {
          attempt.current = null;
          if (order.status === 'pending_payment' && order.pay_url) {
            setLeaving(true); // the button stays busy until the gateway's page replaces ours
            browser.leaveTo(order.pay_url);
            return;
          }
          void navigate(myOrderPath(order.order_no));
        },
        onError: (e) => {
          const problem = toApiError(e);
          if (answered(problem)) attempt.current = null;
          // field problems (bad_buyer_input, a 422) go under their fields
          form.setFields(
            problem.errors.flatMap((p): Parameters<FormInstance<Values>['setFields']>[0] => {
              const name = fieldName(p.loc);
              const errors = [localizedDetail(p.msg, english)];
              if (name && p.loc.includes('buyer_input')) return [{ name: ['buyer_input', name], errors }];
              if (name === 'quantity' || name === 'sku_id') return [{ name, errors }];
              return [];
            }),
          );
          setError(problem);
        },
      },
    );
  };

  const errorText = error
    ? CHECKOUT_CODES.has(error.code)
      ? t(`shop.errors.${error.code as 'sold_out'}`)
      : orderErrorText(error, t, english)
    : null;

  return (
    <Form<Values>
      form={form}
      layout="vertical"
      requiredMark={false}
      initialValues={{ sku_id: firstInStock?.id, quantity: product.min_qty, pay_method: 'balance', buyer_input: {} }}
      onFinish={submit}
      onValuesChange={() => setError(null)}
      disabled={busy}
      data-testid="checkout-form"
    >
      <Form.Item name="sku_id" label={t('shop.sku')}>
        <Radio.Group className="kameng-sku-options">
          {product.skus.map((s) => (
            <Radio.Button key={s.id} value={s.id} disabled={!s.in_stock} data-testid={`sku-option-${s.id}`}>
              <span className="kameng-sku-name">{s.name}</span>
              <span className="kameng-sku-price">{yuan(s.unit_price)}</span>
              {!s.in_stock ? (
                <span className="kameng-sku-stock">{t('shop.soldOut')}</span>
              ) : s.available !== null ? (
                <span className="kameng-sku-stock">{t('shop.stockLeft', { count: s.available })}</span>
              ) : null}
            </Radio.Button>
          ))}
        </Radio.Group>
      </Form.Item>
      <Form.Item
        name="quantity"
        label={t('shop.quantity')}
        extra={
          <Space size={12} wrap>
            <span>{t('shop.quantityHint', { min: product.min_qty, max: product.max_qty })}</span>
            {product.per_user_limit !== null && <span>{t('shop.perUserLimit', { count: product.per_user_limit })}</span>}
          </Space>
        }
        rules={[{ required: true, type: 'integer', min: product.min_qty, max, message: t('shop.quantityHint', { min: product.min_qty, max }) }]}
      >
        <InputNumber min={product.min_qty} max={max} precision={0} style={{ width: 160 }} data-testid="checkout-quantity" />
      </Form.Item>
      {product.buyer_fields.length > 0 && (
        <>
          <Divider orientation="left" plain>
            {t('shop.buyerInfo')}
          </Divider>
          {product.buyer_fields.map((field) => (
            <Form.Item key={field.key} name={['buyer_input', field.key]} label={field.label} rules={fieldRules(field, t)}>
              <BuyerFieldInput field={field} t={t} />
            </Form.Item>
          ))}
        </>
      )}
      <Form.Item name="pay_method" label={t('shop.payMethod')}>
        <Radio.Group data-testid="checkout-pay-method">
          <Space direction="vertical">
            <Radio value="balance" data-testid="pay-balance">
              <Space size={8}>
                <WalletOutlined />
                {t('shop.payBalance')}
                <Typography.Text type="secondary" data-testid="checkout-balance">
                  {t('shop.balanceNow', { balance: yuan(wallet.data?.balance) })}
                </Typography.Text>
              </Space>
            </Radio>
            <Radio value="epay" data-testid="pay-epay">
              {t('shop.payOnline')}
            </Radio>
          </Space>
        </Radio.Group>
      </Form.Item>
      {short && (
        <Alert
          type="warning"
          showIcon
          message={t('shop.balanceShort')}
          action={
            <Link to={MY_WALLET_PATH}>
              <Button size="small">{t('shop.recharge')}</Button>
            </Link>
          }
          style={{ marginBottom: 16 }}
          data-testid="balance-short"
        />
      )}
      <div className="kameng-checkout-total">
        <div>
          <Typography.Text type="secondary">{t('shop.unitPrice')} </Typography.Text>
          <span className="kameng-amount" data-testid="checkout-unit-price">
            {yuan(total?.unit_price ?? sku?.unit_price)}
          </span>
          <Typography.Text type="secondary"> × {validQuantity ?? '—'}</Typography.Text> {total && <RuleTag rule={total.rule} />}
        </div>
        <div>
          <Typography.Text type="secondary">{t('shop.total')} </Typography.Text>
          <span className="kameng-price is-large" data-testid="checkout-total">
            {total ? yuan(total.total) : '—'}
          </span>
        </div>
      </div>
      {errorText && (
        <Alert
          type="error"
          showIcon
          message={errorText}
          style={{ marginBottom: 16 }}
          data-testid="checkout-error"
          data-code={error?.code}
          action={
            error?.code === 'insufficient_balance' ? (
              <Link to={MY_WALLET_PATH}>
                <Button size="small" type="primary" ghost>
                  {t('shop.recharge')}
                </Button>
              </Link>
            ) : undefined
          }
        />
      )}
      <Button
        type="primary"
        htmlType="submit"
        size="large"
        block
        icon={<ShoppingCartOutlined />}
        loading={busy}
        disabled={!sku?.in_stock}
        data-testid="checkout-submit"
      >
        {leaving ? t('shop.redirecting') : payMethod === 'epay' ? t('shop.submitOnline') : t('shop.submitBalance')}
      </Button>
    </Form>
  );
}

/** 商城 › a product: what it is, and the checkout (SKU, quantity, the buyer's fields, price,
 * pay by balance or online). Balance: the order page with the keys; online: the gateway. */
export function ShopProductPage() {
  const { t } = useTranslation();
  const params = useParams();
  const id = params.productId && /^\d+$/.test(params.productId) ? Number(params.productId) : null;
  const product = useShopProduct(id, { silentError: true });
  const back = (
    <Link to={SHOP_PATH}>
      <Button icon={<ArrowLeftOutlined />} data-testid="back-to-shop">
        {t('shop.backToShop')}
      </Button>
    </Link>
  );

  if (id === null || product.isError) {
    const missing = id === null || (product.error instanceof ApiError && product.error.status === 404);
    return (
      <Card className="kameng-card">
        <Result
          status={missing ? '404' : 'error'}
          title={missing ? t('shop.notFound') : t('errors.requestFailed')}
          subTitle={missing ? undefined : orderErrorText(product.error, t, false)}
          extra={back}
        />
      </Card>
    );
  }
  const p = product.data;

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead title={p?.name ?? t('menu.shopProduct')} subtitle={p?.summary || undefined} extra={back} />
      {!p ? (
        <Card className="kameng-card">
          <Skeleton active paragraph={{ rows: 8 }} />
        </Card>
      ) : (
        <Row gutter={[16, 16]}>
          <Col xs={24} lg={10}>
            <Card className="kameng-card" data-testid="product-info">
              <Space direction="vertical" size={12} style={{ width: '100%' }}>
                <ProductPicture product={p} size="large" />
                <Space size={4} wrap>
                  <Tag bordered={false} color="blue">
                    {t(`catalog.delivery.${p.delivery_type}`)}
                  </Tag>
                  {p.tags.map((tag) => (
                    <Tag key={tag} bordered={false}>
                      {tag}
                    </Tag>
                  ))}
                </Space>
                <Typography.Text type="secondary">{t(`shop.deliveryHints.${p.delivery_type}`)}</Typography.Text>
                {p.description_html && (
                  // sanitized by the API (nh3) when the product was saved
                  <div className="kameng-rich" dangerouslySetInnerHTML={{ __html: p.description_html }} />
                )}
              </Space>
            </Card>
          </Col>
          <Col xs={24} lg={14}>
            <Card className="kameng-card" title={t('shop.buy')}>
              <Checkout product={p} />
            </Card>
          </Col>
        </Row>
      )}
    </Space>
  );
}
