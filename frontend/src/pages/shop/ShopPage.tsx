import { GiftOutlined, KeyOutlined, ProfileOutlined, ThunderboltOutlined, ToolOutlined } from '@ant-design/icons';
import { Button, Card, Col, Empty, Input, Row, Skeleton, Space, Tag, TreeSelect, Typography } from 'antd';
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';

import type { ShopProductOut } from '../../client';
import { PageHead } from '../../components/PageHead';
import { yuan } from '../../format';
import { MY_ORDERS_PATH, shopProductPath } from '../../paths';
import { useShopCategories, useShopProducts } from '../../queries/shop';
import { categoryTreeData } from '../catalog/catalogShared';

const DELIVERY_ICONS: Record<string, ReactNode> = {
  card_key: <KeyOutlined />,
  direct_recharge: <ThunderboltOutlined />,
  manual: <ToolOutlined />,
};

/** A product's picture: its first image, else an icon for how it is delivered. */
export function ProductPicture({ product, size = 'normal' }: { product: ShopProductOut; size?: 'normal' | 'large' }) {
  const image = product.images[0];
  return (
    <div className={`kameng-product-picture is-${product.delivery_type} is-${size}`} aria-hidden>
      {image ? <img src={image} alt="" /> : (DELIVERY_ICONS[product.delivery_type] ?? <GiftOutlined />)}
    </div>
  );
}

/** In stock at all (any SKU can be bought now). */
export function purchasable(product: ShopProductOut): boolean {
  return product.skus.some((s) => s.in_stock);
}

function ProductCard({ product }: { product: ShopProductOut }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const open = () => void navigate(shopProductPath(product.id));
  const available = purchasable(product);
  return (
    <Card
      hoverable
      className="kameng-card kameng-product-card"
      onClick={open}
      cover={
        <div>
          <ProductPicture product={product} />
        </div>
      }
      data-testid={`shop-product-${product.id}`}
    >
      <Space direction="vertical" size={6} style={{ width: '100%' }}>
        <Typography.Text strong className="kameng-product-name" ellipsis={{ tooltip: product.name }}>
          {product.name}
        </Typography.Text>
        <Typography.Text type="secondary" className="kameng-note" ellipsis>
          {product.summary || t(`shop.deliveryHints.${product.delivery_type}`)}
        </Typography.Text>
        <Space size={4} wrap style={{ minHeight: 22 }}>
          <Tag bordered={false} color="blue">
            {t(`catalog.delivery.${product.delivery_type}`)}
          </Tag>
          {product.tags.map((tag) => (
            <Tag key={tag} bordered={false}>
              {tag}
            </Tag>
          ))}
        </Space>
        <div className="kameng-product-foot">
          <span className="kameng-price" data-testid={`shop-price-${product.id}`}>
            {t('shop.priceFrom', { price: yuan(product.price_from) })}
          </span>
          {available ? (
            <Button type="primary" size="small" onClick={open} data-testid={`shop-buy-${product.id}`}>
              {t('shop.buy')}
            </Button>
          ) : (
            <Tag>{t('shop.soldOut')}</Tag>
          )}
        </div>
      </Space>
    </Card>
  );
}

/** 商城: the products on sale with the signed-in buyer's prices; a click opens the product. */
export function ShopPage() {
  const { t } = useTranslation();
  const [categoryId, setCategoryId] = useState<number>();
  const [q, setQ] = useState('');
  const categories = useShopCategories();
  const products = useShopProducts({ category_id: categoryId, q });

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <PageHead
        title={t('shop.title')}
        subtitle={t('shop.subtitle')}
        extra={
          <Link to={MY_ORDERS_PATH}>
            <Button icon={<ProfileOutlined />} data-testid="shop-my-orders">
              {t('menu.myOrders')}
            </Button>
          </Link>
        }
      />
      <Space wrap>
        <TreeSelect<number>
          allowClear
          treeDefaultExpandAll
          placeholder={t('shop.allCategories')}
          value={categoryId}
          onChange={(v?: number) => setCategoryId(v ?? undefined)}
          treeData={categoryTreeData(categories.data)}
          style={{ width: 220 }}
          data-testid="shop-category"
        />
        <Input.Search allowClear placeholder={t('shop.search')} onSearch={(v) => setQ(v.trim())} style={{ width: 260 }} data-testid="shop-search" />
      </Space>
      {products.isPending ? (
        <Card className="kameng-card">
          <Skeleton active paragraph={{ rows: 6 }} />
        </Card>
      ) : (products.data ?? []).length === 0 ? (
        <Card className="kameng-card">
          <Empty description={t('shop.noProducts')} />
        </Card>
      ) : (
        <Row gutter={[16, 16]} data-testid="shop-products">
          {(products.data ?? []).map((p) => (
            <Col key={p.id} xs={24} sm={12} lg={8} xxl={6}>
              <ProductCard product={p} />
            </Col>
          ))}
        </Row>
      )}
    </Space>
  );
}
