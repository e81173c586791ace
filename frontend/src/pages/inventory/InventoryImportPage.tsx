import { ImportOutlined } from '@ant-design/icons';
import { Alert, Card, Result } from 'antd';
import { useTranslation } from 'react-i18next';

/** 商品与库存 › 卡密导入 — a placeholder until the inventory capability brings the import wizard. */
export function InventoryImportPage() {
  const { t } = useTranslation();
  return (
    <Card variant="borderless" className="kameng-card" data-testid="inventory-import-page">
      <Result
        icon={<ImportOutlined style={{ color: '#1677ff' }} />}
        title={t('inventoryImport.title')}
        subTitle={t('inventoryImport.subtitle')}
        extra={<Alert type="info" showIcon message={t('inventoryImport.note')} style={{ maxWidth: 560, margin: '0 auto', textAlign: 'left' }} />}
      />
    </Card>
  );
}
