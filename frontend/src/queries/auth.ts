import { useMutation } from '@tanstack/react-query';

import { unwrap } from '../api';
import { authLogin, authLogin2Fa, type MfaRequiredOut, type TokenOut } from '../client';

export type LoginAnswer = TokenOut | MfaRequiredOut;

export function isMfaRequired(answer: LoginAnswer): answer is MfaRequiredOut {
  return 'mfa_token' in answer;
}

/** `auth:login` — password step; the page shows errors itself. */
export function useLogin() {
  return useMutation({
    mutationFn: (body: { login: string; password: string }) =>
      unwrap(authLogin({ body: { ...body, refresh_transport: 'cookie' }, throwOnError: true })),
    meta: { silentError: true },
  });
}

/** `auth:login_2fa` — second step with a TOTP code or a recovery code. */
export function useLoginSecondFactor() {
  return useMutation({
    mutationFn: (body: { mfa_token: string } & ({ code: string } | { recovery_code: string })) =>
      unwrap(authLogin2Fa({ body: { ...body, refresh_transport: 'cookie' }, throwOnError: true })),
    meta: { silentError: true },
  });
}
