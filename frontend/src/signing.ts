/**
 * The open API's request signing (docs/reseller-api.md › Signing a request), in the browser:
 * the same rules as the server's `kameng_api.resellers.signing`, computed with Web Crypto
 * (SHA-256, HMAC-SHA256). Pure: nothing here sends anything anywhere — the 签名调试 page
 * (pages/reseller/SigningPlaygroundPage.tsx) uses it with a secret the reseller pastes.
 *
 *   string to sign = METHOD \n PATH \n CANONICAL_QUERY \n TIMESTAMP \n NONCE \n SHA256_HEX(body)
 *   X-Kameng-Signature = lowercase hex HMAC-SHA256(secret, string to sign)
 */

export const HEADER_APP_ID = 'X-Kameng-App-Id';
export const HEADER_TIMESTAMP = 'X-Kameng-Timestamp';
export const HEADER_NONCE = 'X-Kameng-Nonce';
export const HEADER_SIGNATURE = 'X-Kameng-Signature';
/** What the server accepts as a nonce. */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** RFC 3986 percent-encoding of UTF-8, keeping only `A-Z a-z 0-9 - _ . ~` (Python's
 * `quote(s, safe="-_.~")`: a space is `%20`, hex digits upper case). */
export function percentEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A query string as the server receives it: `a=1&b=x+y` → [['a','1'], ['b','x y']] (a leading
 * `?` is ignored; `+` is a space, as in any form-encoded query). */
export function parseQuery(query: string): [string, string][] {
  const text = query.trim().replace(/^\?/, '');
  if (!text) return [];
  return [...new URLSearchParams(text).entries()];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** CANONICAL_QUERY: every pair percent-encoded, sorted by name then value, `name=value` joined with `&`. */
export function canonicalQuery(pairs: readonly (readonly [string, string])[]): string {
  return pairs
    .map(([k, v]) => [percentEncode(k), percentEncode(v)] as const)
    .sort((x, y) => compare(x[0], y[0]) || compare(x[1], y[1]))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function subtle(): SubtleCrypto {
  // undefined outside a secure context (plain http to a host other than localhost)
  const s = globalThis.crypto.subtle as SubtleCrypto | undefined;
  if (!s) throw new Error('Web Crypto is not available (the page must be served over HTTPS or from localhost)');
  return s;
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

function utf8(text: string): Uint8Array<ArrayBuffer> {
  // copied into this realm's Uint8Array: a TextEncoder may hand out another realm's (jsdom's
  // in the tests), which Node's SubtleCrypto refuses
  return Uint8Array.from(new TextEncoder().encode(text));
}

/** Lowercase hex SHA-256 of the UTF-8 bytes of `body`. */
export async function sha256Hex(body: string): Promise<string> {
  return hex(await subtle().digest('SHA-256', utf8(body)));
}

/** Lowercase hex HMAC-SHA256 of `text` keyed with `secret` (both UTF-8). */
export async function hmacSha256Hex(secret: string, text: string): Promise<string> {
  const key = await subtle().importKey('raw', utf8(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return hex(await subtle().sign('HMAC', key, utf8(text)));
}

export interface SignInput {
  method: string;
  /** the path exactly as sent, without the query: `/open/v1/orders/A-1001` */
  path: string;
  /** the query string as sent (`status=delivered&cursor=a+b`), with or without `?` */
  query: string;
  timestamp: string;
  nonce: string;
  /** the exact body text sent (empty for a GET) */
  body: string;
  secret: string;
}

export interface Signed {
  canonicalQuery: string;
  bodySha256: string;
  stringToSign: string;
  signature: string;
}

/** Everything the server computes to check a request: the string to sign and its signature. */
export async function signRequest(input: SignInput): Promise<Signed> {
  const query = canonicalQuery(parseQuery(input.query));
  const bodySha256 = await sha256Hex(input.body);
  const stringToSign = [input.method.toUpperCase(), input.path, query, input.timestamp, input.nonce, bodySha256].join('\n');
  const signature = await hmacSha256Hex(input.secret, stringToSign);
  return { canonicalQuery: query, bodySha256, stringToSign, signature };
}

/** A new nonce: 32 lowercase hex characters from the browser's random source. */
export function randomNonce(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Unix seconds now, as the timestamp header carries it. */
export function unixNow(now = Date.now()): string {
  return String(Math.floor(now / 1000));
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * A curl command sending exactly the signed request: the canonical query is also what is sent
 * (it is what the server re-derives), the body as `--data-binary` (the same bytes). The secret
 * is not in it — only the signature.
 */
export function curlCommand(
  base: string,
  input: Pick<SignInput, 'method' | 'path' | 'timestamp' | 'nonce' | 'body'> & { appId: string },
  signed: Pick<Signed, 'canonicalQuery' | 'signature'>,
): string {
  const url = `${base.replace(/\/+$/, '')}${input.path}${signed.canonicalQuery ? `?${signed.canonicalQuery}` : ''}`;
  const lines = [
    `curl -sS -X ${input.method.toUpperCase()} ${shellQuote(url)}`,
    `-H ${shellQuote(`${HEADER_APP_ID}: ${input.appId || 'ak_…'}`)}`,
    `-H ${shellQuote(`${HEADER_TIMESTAMP}: ${input.timestamp}`)}`,
    `-H ${shellQuote(`${HEADER_NONCE}: ${input.nonce}`)}`,
    `-H ${shellQuote(`${HEADER_SIGNATURE}: ${signed.signature}`)}`,
  ];
  if (input.body) lines.push(`-H 'Content-Type: application/json'`, `--data-binary ${shellQuote(input.body)}`);
  return lines.join(' \\\n  ');
}
