import { useMutation } from '@tanstack/react-query';

import type { MfaRequiredOut, TokenOut } from '../client';
import { authLogin2FaMutation, authLoginMutation } from '../client/@tanstack/react-query.gen';
import { mutationWith } from './common';

export type LoginAnswer = TokenOut | MfaRequiredOut;

export function isMfaRequired(answer: LoginAnswer): answer is MfaRequiredOut {
  return 'mfa_token' in answer;
}

/** `auth:login` — password step; the page shows errors itself. */
export function useLogin() {
  return useMutation({
    ...mutationWith(authLoginMutation(), (body: { login: string; password: string }) => ({
      body: { ...body, refresh_transport: 'cookie' as const },
    })),
    meta: { silentError: true },
  });
}

/** `auth:login_2fa` — second step with a TOTP code or a recovery code. */
export function useLoginSecondFactor() {
  return useMutation({
    ...mutationWith(authLogin2FaMutation(), (body: { mfa_token: string } & ({ code: string } | { recovery_code: string })) => ({
      body: { ...body, refresh_transport: 'cookie' as const },
    })),
    meta: { silentError: true },
  });
}
