/** Fixed paths of the console outside the module menu. */
export const HOME_PATH = '/';
export const LOGIN_PATH = '/login';
export const CHANGE_PASSWORD_PATH = '/change-password';
export const ENROLL_2FA_PATH = '/setup-2fa';
export const SECURITY_PATH = '/account/security';
export const MY_WALLET_PATH = '/account/wallet';
export const SHOP_PATH = '/shop';
export const MY_ORDERS_PATH = '/account/orders';
export const ADMIN_ORDERS_PATH = '/orders/list';
export const RESELLER_KEYS_PATH = '/account/reseller/keys';
export const RESELLER_CALLBACK_PATH = '/account/reseller/callback';
export const RESELLER_CALLBACK_LOG_PATH = '/account/reseller/callback-log';
export const RESELLER_SIGNING_PATH = '/account/reseller/signing';
export const SUPPLIERS_PATH = '/suppliers/list';
export const SUPPLIER_SYNC_PATH = '/suppliers/sync';
export const SUPPLIER_RECON_PATH = '/suppliers/reconciliations';
export const ADMIN_RESELLER_CALLBACKS_PATH = '/orders/reseller-callbacks';

/** 商城 › one product (pick a SKU and buy). */
export function shopProductPath(productId: number): string {
  return `${SHOP_PATH}/${productId}`;
}

/** 我的订单 › one order (also where the payment gateway sends the buyer back). */
export function myOrderPath(orderNo: string): string {
  return `${MY_ORDERS_PATH}/${encodeURIComponent(orderNo)}`;
}

/** 交易 › 订单 › one order (console). */
export function adminOrderPath(orderNo: string): string {
  return `${ADMIN_ORDERS_PATH}/${encodeURIComponent(orderNo)}`;
}
