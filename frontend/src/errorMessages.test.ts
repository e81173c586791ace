import { describe, expect, it } from 'vitest';

import { ApiError, NETWORK_ERROR_CODE, toApiError } from './api';
import { describeError, fieldName, lockoutSeconds } from './errorMessages';
import i18n from './i18n';

const t = i18n.getFixedT('zh-CN');
const en = i18n.getFixedT('en');

function problem(code: string, extra: Partial<ConstructorParameters<typeof ApiError>[0]> = {}): ApiError {
  return new ApiError({ status: 400, code, title: code, ...extra });
}

describe('error code → message', () => {
  it('a wrong login and a wrong password get the same generic message', () => {
    expect(describeError(problem('invalid_credentials', { detail: 'The login or the password is wrong.' }), t)).toBe('账号或密码错误');
    expect(describeError(problem('invalid_credentials'), en)).toBe('Wrong login or password');
  });

  it('a lockout says when to try again, from Retry-After or the detail', () => {
    const fromHeader = toApiError(
      { type: 'x', title: 'Too many failed sign-ins', status: 429, code: 'login_locked', detail: 'Try again in 120 s.' },
      new Response(null, { status: 429, headers: { 'retry-after': '125' } }),
    );
    expect(lockoutSeconds(fromHeader)).toBe(125);
    expect(describeError(fromHeader, t)).toBe('登录失败次数过多，账号已暂时锁定，请 2 分 5 秒后再试');
    expect(describeError(fromHeader, en)).toBe('Too many failed sign-ins; the account is locked for now. Try again in 2 min 5 s.');

    const fromDetail = problem('login_locked', { detail: 'Too many failed attempts. Try again in 60 s.' });
    expect(describeError(fromDetail, t)).toBe('登录失败次数过多，账号已暂时锁定，请 1 分 0 秒后再试');
    // the brief's name for the same thing, without any time
    expect(describeError(problem('account_locked'), t)).toBe('登录失败次数过多，账号已暂时锁定，请稍后再试');
  });

  it('2FA, password and RBAC codes have their own sentences', () => {
    expect(describeError(problem('invalid_2fa_code'), t)).toBe('验证码错误或已被使用，请等待 App 显示新的验证码后重试');
    expect(describeError(problem('invalid_mfa_code'), t)).toBe('验证码错误或已被使用，请等待 App 显示新的验证码后重试');
    expect(describeError(problem('step_up_required'), t)).toBe('此操作需要两步验证确认');
    expect(describeError(problem('mfa_enrollment_required'), t)).toBe('此操作需要先开启两步验证');
    expect(describeError(problem('password_change_required'), t)).toBe('请先修改初始密码');
    expect(describeError(problem('password_reused'), t)).toBe('不能使用当前密码或最近 5 次用过的密码');
    expect(describeError(problem('permission_denied'), t)).toBe('您没有执行此操作的权限');
    expect(describeError(problem('cannot_grant_unheld_permission'), t)).toBe('不能授予您自己未持有的权限');
    expect(describeError(problem('role_in_use'), en)).toBe('People still hold this role; give them another role first');
    expect(describeError(problem('session_ended'), t)).toBe('登录已失效，请重新登录');
  });

  it('inventory codes have their own sentences', () => {
    expect(describeError(problem('too_many_lines', { detail: '单次导入最多 1000000 行' }), t)).toBe('单次导入的行数超过上限，请拆分文件');
    expect(describeError(problem('not_card_key_product'), t)).toBe('该商品的发货方式不是卡密，不能导入卡密');
    expect(describeError(problem('batch_has_sold_keys'), en)).toBe(
      'Keys of this batch were sold, so it cannot be voided as a whole; void the unsold keys in the key list',
    );
    expect(describeError(problem('upload_too_large'), en)).toBe('The file is too large; split it and upload again');
  });

  it('weak_password names the rule that was broken', () => {
    expect(describeError(problem('weak_password', { detail: 'Use at least 8 characters.' }), t)).toBe('密码太短：至少 8 个字符');
    expect(describeError(problem('weak_password', { detail: 'This password is among the most common ones; choose another.' }), t)).toBe(
      '这是常见密码，容易被猜到，请换一个',
    );
    expect(describeError(problem('weak_password', { detail: 'The password must not be your login.' }), t)).toBe('密码不能与登录名相同');
    expect(describeError(problem('weak_password'), t)).toBe('密码强度不足');
  });

  it('validation_failed lists the fields', () => {
    const error = problem('validation_failed', {
      status: 422,
      errors: [
        { loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' },
        { loc: ['body', 'role_ids', 0], msg: 'must be an integer', type: 'int_parsing' },
      ],
    });
    expect(describeError(error, t)).toBe('输入有误: email: value is not a valid email address; role_ids: must be an integer');
    expect(fieldName(['query', 'limit'])).toBe('limit');
    expect(fieldName([0])).toBeNull();
  });

  it('unknown codes fall back to the server detail; no answer at all is a network message', () => {
    expect(describeError(problem('something_new', { detail: 'It broke.' }), t)).toBe('请求失败: It broke.');
    expect(describeError(problem('something_new', { title: 'Teapot' }), t)).toBe('请求失败: Teapot');
    expect(describeError(problem(NETWORK_ERROR_CODE, { status: 0 }), t)).toBe('无法连接服务器，请检查网络');
  });
});
