/** Fixed paths of the console outside the module menu. */
export const HOME_PATH = '/';
export const LOGIN_PATH = '/login';
export const CHANGE_PASSWORD_PATH = '/change-password';
export const ENROLL_2FA_PATH = '/setup-2fa';
export const SECURITY_PATH = '/account/security';
export const MY_WALLET_PATH = '/account/wallet';
