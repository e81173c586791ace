import { CheckCircleOutlined } from '@ant-design/icons';
import { Alert, Button, Form, Input, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

import { ApiError, toApiError } from '../api';
import { describeError, fieldName } from '../errorMessages';
import { useChangePassword } from '../queries/me';

interface Values {
  current: string;
  password: string;
  confirm: string;
}

/** The backend's password policy, as hints under the form. */
export function PasswordPolicy({ staff = true }: { staff?: boolean }) {
  const { t } = useTranslation();
  const rules = [t('password.policyLength'), t('password.policyCommon'), ...(staff ? [t('password.policyHistory')] : [])];
  return (
    <div className="kameng-policy" data-testid="password-policy">
      <Typography.Text strong>{t('password.policyTitle')}</Typography.Text>
      <ul>
        {rules.map((rule) => (
          <li key={rule}>
            <CheckCircleOutlined /> {rule}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Change your own password (forced at first sign-in, or from 我的安全). */
export function ChangePasswordForm({ forced = false, staff = true, onDone }: { forced?: boolean; staff?: boolean; onDone: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<Values>();
  const change = useChangePassword();
  const [error, setError] = useState<string | null>(null);

  const submit = (values: Values) => {
    setError(null);
    change.mutate(
      { current_password: values.current, new_password: values.password },
      {
        onSuccess: () => {
          form.resetFields();
          onDone();
        },
        onError: (e) => {
          const problem = e instanceof ApiError ? e : toApiError(e);
          const text = describeError(problem, t);
          if (problem.code === 'wrong_password') form.setFields([{ name: 'current', errors: [text] }]);
          else if (problem.code === 'weak_password' || problem.code === 'password_reused') {
            form.setFields([{ name: 'password', errors: [text] }]);
          } else if (problem.code === 'validation_failed' && problem.errors.length > 0) {
            const names: Record<string, keyof Values> = { current_password: 'current', new_password: 'password' };
            form.setFields(
              problem.errors.map((f) => ({ name: names[fieldName(f.loc) ?? ''] ?? 'password', errors: [f.msg] })),
            );
          } else setError(text);
        },
      },
    );
  };

  return (
    <Form form={form} layout="vertical" onFinish={submit} requiredMark={false} className="kameng-password-form">
      <Form.Item
        name="current"
        label={forced ? t('password.currentForced') : t('password.current')}
        rules={[{ required: true, message: t('password.required') }]}
      >
        <Input.Password autoComplete="current-password" data-testid="password-current" />
      </Form.Item>
      <Form.Item
        name="password"
        label={t('password.new')}
        dependencies={['current']}
        rules={[
          { required: true, message: t('password.required') },
          { min: 8, message: t('password.tooShort') },
          { max: 128, message: t('password.tooLong') },
          {
            validator: (_, value: string | undefined) =>
              !value || new Set(value).size >= 3 ? Promise.resolve() : Promise.reject(new Error(t('password.tooSimple'))),
          },
          ({ getFieldValue }) => ({
            validator: (_, value: string | undefined) =>
              !value || value !== getFieldValue('current')
                ? Promise.resolve()
                : Promise.reject(new Error(t('password.sameAsCurrent'))),
          }),
        ]}
      >
        <Input.Password autoComplete="new-password" data-testid="password-new" />
      </Form.Item>
      <Form.Item
        name="confirm"
        label={t('password.confirm')}
        dependencies={['password']}
        rules={[
          { required: true, message: t('password.required') },
          ({ getFieldValue }) => ({
            validator: (_, value: string | undefined) =>
              !value || value === getFieldValue('password')
                ? Promise.resolve()
                : Promise.reject(new Error(t('password.mismatch'))),
          }),
        ]}
      >
        <Input.Password autoComplete="new-password" data-testid="password-confirm" />
      </Form.Item>
      <PasswordPolicy staff={staff} />
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} data-testid="password-error" />}
      <Button type="primary" htmlType="submit" loading={change.isPending} block={forced} data-testid="password-submit">
        {t('password.submit')}
      </Button>
    </Form>
  );
}
