/**
 * One place that turns an API error (its stable `code`) into a sentence for the user, in the
 * current language. Unknown codes fall back to the server's own detail.
 */
import type { TFunction } from 'i18next';

import { ApiError, NETWORK_ERROR_CODE } from './api';
import { formatDuration } from './format';
import type { Messages } from './i18n/locales/zh-CN';

type ApiErrorKey = keyof Messages['apiErrors'];

/** Codes that mean the same to the user as another one (older or alternative names). */
const ALIASES: Record<string, ApiErrorKey> = {
  account_locked: 'login_locked',
  invalid_mfa_code: 'invalid_2fa_code',
  token_expired: 'session_expired',
  invalid_token: 'session_expired',
  session_ended: 'session_expired',
  invalid_refresh_token: 'session_expired',
  refresh_token_reused: 'session_expired',
  unauthenticated: 'session_expired',
};

const KNOWN = new Set<string>([
  'invalid_credentials',
  'login_locked',
  'account_disabled',
  'invalid_2fa_code',
  'mfa_token_invalid',
  'invalid_code',
  'wrong_password',
  'weak_password',
  'password_reused',
  'password_change_required',
  'step_up_required',
  'mfa_enrollment_required',
  'mfa_required_by_role',
  'mfa_already_enabled',
  'mfa_not_enabled',
  'mfa_setup_not_started',
  'permission_denied',
  'cannot_grant_unheld_permission',
  'unknown_permission',
  'role_key_taken',
  'builtin_role',
  'role_in_use',
  'last_super_admin',
  'cannot_disable_self',
  'email_taken',
  'phone_taken',
  'not_staff',
  'not_found',
  'session_expired',
  'rate_limited',
  'validation_failed',
  'price_below_cost',
  'category_not_empty',
  'category_too_deep',
  'category_name_taken',
  'unknown_category',
  'upload_too_large',
  'bad_encoding',
  'malformed_file',
  'unsupported_file',
  'unsafe_file',
  'too_many_lines',
  'empty_file',
  'not_card_key_product',
  'bad_separator',
  'bad_upload',
  'unknown_sku',
  'unknown_import',
  'unknown_key',
  'batch_state',
  'nothing_to_import',
  'batch_has_sold_keys',
  'stock_changed',
  'insufficient_balance',
  'bad_amount',
  'unknown_user',
  'sold_out',
  'per_user_limit',
  'quantity_out_of_range',
  'bad_buyer_input',
  'payment_unavailable',
  'unknown_order',
  'not_refundable',
  'not_redeliverable',
  'not_awaiting_payment',
  'idempotency_in_progress',
  'idempotency_key_reused',
  'service_unavailable',
  'not_awaiting_delivery',
  'nothing_to_resend',
  'url_not_allowed',
  'too_many_keys',
  'key_not_found',
  'key_not_active',
  'callback_not_found',
  'callback_url_missing',
  'unknown_supplier',
  'supplier_exists',
  'unknown_mapping',
  'mapping_exists',
  'supplier_unavailable',
  'outbound_failed',
  'sync_running',
  'recon_running',
  'bad_period',
] satisfies ApiErrorKey[]);

function messageKey(code: string): ApiErrorKey | null {
  const alias = ALIASES[code];
  if (alias) return alias;
  return KNOWN.has(code) ? (code as ApiErrorKey) : null;
}

/** Seconds of a lockout: the Retry-After header, else "... in 42 s" in the detail. */
export function lockoutSeconds(error: ApiError): number | null {
  if (error.retryAfter !== null) return error.retryAfter;
  const match = /(\d+)\s*s\b/.exec(error.detail ?? '');
  return match?.[1] ? Number(match[1]) : null;
}

/** Which rule a weak_password broke, from the server's detail. */
function weakPasswordKey(detail: string | null): ApiErrorKey {
  const text = (detail ?? '').toLowerCase();
  if (text.includes('at least')) return 'weak_password_short';
  if (text.includes('at most')) return 'weak_password_long';
  if (text.includes('common')) return 'weak_password_common';
  if (text.includes('login')) return 'weak_password_login';
  return 'weak_password';
}

/** The last named part of a field problem's location, e.g. ["body", "email"] → "email". */
export function fieldName(loc: readonly (string | number)[]): string | null {
  const named = loc.filter((part): part is string => typeof part === 'string' && part !== 'body' && part !== 'query');
  return named.at(-1) ?? null;
}

/** The user-facing sentence for `error`. */
export function describeError(error: ApiError, t: TFunction): string {
  if (error.code === NETWORK_ERROR_CODE) return t('errors.network');
  const key = messageKey(error.code);
  switch (key) {
    case null:
      return `${t('errors.requestFailed')}: ${error.detail ?? error.title}`;
    case 'login_locked': {
      const seconds = lockoutSeconds(error);
      return seconds === null
        ? t('apiErrors.login_locked_unknown')
        : t('apiErrors.login_locked', { wait: formatDuration(seconds, t) });
    }
    case 'weak_password':
      return t(`apiErrors.${weakPasswordKey(error.detail)}`);
    case 'validation_failed': {
      const fields = error.errors
        .map((e) => {
          const name = fieldName(e.loc);
          return name ? `${name}: ${e.msg}` : e.msg;
        })
        .join('; ');
      return fields ? `${t('apiErrors.validation_failed')}: ${fields}` : t('apiErrors.validation_failed');
    }
    default:
      return t(`apiErrors.${key}`);
  }
}

/** `describeError` for anything a query or mutation may throw. */
export function describeAnyError(error: unknown, t: TFunction): string {
  if (error instanceof ApiError) return describeError(error, t);
  return error instanceof Error ? error.message : String(error);
}
