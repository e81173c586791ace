import { CopyOutlined, DownloadOutlined } from '@ant-design/icons';
import { Alert, App, Button, Checkbox, Space } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

import { saveBlob } from '../queries/audit';

/** Put `text` on the clipboard; false when the browser refuses. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * One-time recovery codes: shown once, with copy and download, and a confirmation that they
 * were saved before the user may go on.
 */
export function RecoveryCodes({ codes, onDone, doneLabel }: { codes: string[]; onDone: () => void; doneLabel?: string }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [saved, setSaved] = useState(false);
  const text = codes.join('\n');

  const copy = async () => {
    if (await copyText(text)) void message.success(t('twoFactor.copied'));
    else void message.warning(t('twoFactor.copyFailed'));
  };

  const download = () => {
    const body = `${t('twoFactor.recoveryFileHeader')}\n${new Date().toISOString()}\n\n${text}\n`;
    saveBlob(new Blob([body], { type: 'text/plain;charset=utf-8' }), 'kameng-recovery-codes.txt');
  };

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <Alert type="warning" showIcon message={t('twoFactor.recoveryTitle')} description={t('twoFactor.recoveryHint')} />
      <ol className="kameng-recovery-codes" data-testid="recovery-codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <Space wrap>
        <Button icon={<CopyOutlined />} onClick={() => void copy()} data-testid="recovery-codes-copy">
          {t('twoFactor.copyCodes')}
        </Button>
        <Button icon={<DownloadOutlined />} onClick={download} data-testid="recovery-codes-download">
          {t('twoFactor.downloadCodes')}
        </Button>
      </Space>
      <Checkbox checked={saved} onChange={(e) => setSaved(e.target.checked)} data-testid="recovery-codes-saved">
        {t('twoFactor.savedConfirm')}
      </Checkbox>
      <Button type="primary" block disabled={!saved} onClick={onDone} data-testid="recovery-codes-done">
        {doneLabel ?? t('twoFactor.done')}
      </Button>
    </Space>
  );
}
