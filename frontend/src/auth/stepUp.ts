/**
 * Step-up: sensitive actions need a 2FA code confirmed within the last few minutes. When any
 * request answers 403 `step_up_required`, the registered prompt (<StepUpModal/>) asks for a
 * code, POSTs /api/v1/auth/step-up, and the request is sent again — the mutation that caused
 * it simply succeeds a little later. Parallel requests share one prompt.
 *
 * A 403 `mfa_enrollment_required` calls the enrollment guide (a dialog that leads to 我的安全).
 */
import { replay, setForbiddenHandler } from '../api';

export const STEP_UP_PATH = '/api/v1/auth/step-up';

/** Asks the user for a code and confirms it; resolves true when the step-up succeeded. */
export type StepUpPrompt = () => Promise<boolean>;

let prompt: StepUpPrompt | null = null;
let pending: Promise<boolean> | null = null;
let enrollmentGuide: (() => void) | null = null;

export function setStepUpPrompt(next: StepUpPrompt): () => void {
  prompt = next;
  return () => {
    if (prompt === next) prompt = null;
  };
}

export function setEnrollmentGuide(next: () => void): () => void {
  enrollmentGuide = next;
  return () => {
    if (enrollmentGuide === next) enrollmentGuide = null;
  };
}

/** Ask for a step-up (one prompt for any number of callers). False without a prompt. */
export function requestStepUp(): Promise<boolean> {
  const current = prompt;
  if (!current) return Promise.resolve(false);
  pending ??= current().finally(() => {
    pending = null;
  });
  return pending;
}

async function problemCode(response: Response): Promise<string | null> {
  try {
    const body: unknown = await response.clone().json();
    if (typeof body === 'object' && body !== null && 'code' in body && typeof body.code === 'string') return body.code;
  } catch {
    // not JSON
  }
  return null;
}

async function onForbidden(response: Response, request: Request): Promise<Response> {
  if (new URL(request.url).pathname === STEP_UP_PATH) return response;
  const code = await problemCode(response);
  if (code === 'step_up_required') {
    return (await requestStepUp()) ? replay(request) : response;
  }
  if (code === 'mfa_enrollment_required') enrollmentGuide?.();
  return response;
}

setForbiddenHandler(onForbidden);

/** Tests only. */
export function resetStepUpForTests(): void {
  prompt = null;
  pending = null;
  enrollmentGuide = null;
}
