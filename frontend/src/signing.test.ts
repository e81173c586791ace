import { describe, expect, it } from 'vitest';

import { canonicalQuery, curlCommand, EMPTY_SHA256, NONCE_PATTERN, parseQuery, percentEncode, randomNonce, sha256Hex, signRequest } from './signing';

// docs/reseller-api.md › Worked example (tests/test_reseller_open_api.py checks the same values
// against kameng_api.resellers.signing)
const SECRET = 'sk_example_secret_do_not_use';
const TIMESTAMP = '1765152000';
const NONCE = '0f8e2a9c4b7d41e6a3c5b2d1e0f9a8b7';
const BODY = '{"out_trade_no":"A-1001","sku_id":7,"quantity":1,"buyer_input":{}}';

describe('signing (the open API rules, as the Python kameng_api.resellers.signing)', () => {
  it('reproduces the worked example of a POST exactly', async () => {
    const signed = await signRequest({ method: 'post', path: '/open/v1/orders', query: '', timestamp: TIMESTAMP, nonce: NONCE, body: BODY, secret: SECRET });
    expect(signed.bodySha256).toBe('8daea458fb49c7813c313223a9e0044019e42ae2f588204166c92f7ad37fab91');
    expect(signed.canonicalQuery).toBe('');
    expect(signed.stringToSign).toBe(
      ['POST', '/open/v1/orders', '', '1765152000', '0f8e2a9c4b7d41e6a3c5b2d1e0f9a8b7', '8daea458fb49c7813c313223a9e0044019e42ae2f588204166c92f7ad37fab91'].join('\n'),
    );
    expect(signed.signature).toBe('d36cfcfbab998c0d44016fa537e6e329e08a5dd62743efad9b4058b81a1f02e2');
  });

  it('reproduces the worked example of a GET with a query (a + is a space, sorted, %20)', async () => {
    const signed = await signRequest({
      method: 'GET',
      path: '/open/v1/orders',
      query: '?status=delivered&limit=5&cursor=a+b',
      timestamp: TIMESTAMP,
      nonce: NONCE,
      body: '',
      secret: SECRET,
    });
    expect(signed.canonicalQuery).toBe('cursor=a%20b&limit=5&status=delivered');
    expect(signed.bodySha256).toBe(EMPTY_SHA256);
    expect(signed.stringToSign).toBe(`GET\n/open/v1/orders\ncursor=a%20b&limit=5&status=delivered\n1765152000\n${NONCE}\n${EMPTY_SHA256}`);
    expect(signed.signature).toBe('b4b461f8b3b4d8ea62da729a761eff1a3e12d30a5e9f888896ce86434e99677f');
  });

  it('percent-encodes like Python quote(s, safe="-_.~") and sorts by name then value', async () => {
    expect(percentEncode("a b!*'()~-_.")).toBe('a%20b%21%2A%27%28%29~-_.');
    expect(percentEncode('游戏')).toBe('%E6%B8%B8%E6%88%8F');
    expect(parseQuery('b=2&a=z&a=y&c=%E6%B8%B8')).toEqual([
      ['b', '2'],
      ['a', 'z'],
      ['a', 'y'],
      ['c', '游'],
    ]);
    expect(canonicalQuery(parseQuery('b=2&a=z&a=y&c=%E6%B8%B8'))).toBe('a=y&a=z&b=2&c=%E6%B8%B8');
    expect(await sha256Hex('')).toBe(EMPTY_SHA256);
  });

  it('makes nonces the server accepts and a curl command carrying the exact bytes', () => {
    const nonce = randomNonce();
    expect(nonce).toMatch(NONCE_PATTERN);
    expect(randomNonce()).not.toBe(nonce);
    const curl = curlCommand(
      'https://shop.example.com/',
      { method: 'POST', path: '/open/v1/orders', timestamp: TIMESTAMP, nonce: NONCE, body: `{"note":"it's"}`, appId: 'ak_1' },
      { canonicalQuery: '', signature: 'f'.repeat(64) },
    );
    expect(curl).toContain("curl -sS -X POST 'https://shop.example.com/open/v1/orders'");
    expect(curl).toContain("-H 'X-Kameng-Signature: " + 'f'.repeat(64) + "'");
    expect(curl).toContain(`--data-binary '{"note":"it'\\''s"}'`);
    expect(curl).not.toContain(SECRET);
  });
});
