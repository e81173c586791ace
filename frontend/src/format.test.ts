import { describe, expect, it } from 'vitest';

import { localizedDetail, money, signedYuan, yuan } from './format';

describe('money formatting', () => {
  it('rounds the API\'s decimal strings to 2 decimals exactly, half away from zero', () => {
    expect(money('25.5000')).toBe('25.50');
    expect(money('1.0050')).toBe('1.01'); // a float would say 1.00
    expect(money('-0.0049')).toBe('0.00');
    expect(money('-12.3450')).toBe('-12.35');
    expect(money('123456789012345.9999')).toBe('123456789012346.00');
    expect(money('7')).toBe('7.00');
    expect(money(null)).toBe('—');
  });

  it('shows yuan, and the sign of a movement', () => {
    expect(yuan('200.0000')).toBe('¥200.00');
    expect(yuan('-5200.0000')).toBe('-¥5200.00');
    expect(signedYuan('50.0000')).toBe('+¥50.00');
    expect(signedYuan('-30.0000')).toBe('-¥30.00');
    expect(signedYuan('0.0000')).toBe('¥0.00');
    expect(signedYuan(undefined)).toBe('—');
  });
});

describe('server details in the UI language', () => {
  it('takes the Chinese part or the English one in brackets; anything else stays as it is', () => {
    const detail = '每人限购 2 件，您已购买 2 件 (limit 2 per buyer)';
    expect(localizedDetail(detail, false)).toBe('每人限购 2 件，您已购买 2 件');
    expect(localizedDetail(detail, true)).toBe('limit 2 per buyer');
    expect(localizedDetail('充值金额须在 0.01–50000 之间 (0.01 ≤ amount ≤ 50000)', false)).toBe('充值金额须在 0.01–50000 之间');
    expect(localizedDetail('Buy between 1 and 5 of this product.', false)).toBe('Buy between 1 and 5 of this product.');
    expect(localizedDetail('(only brackets)', true)).toBe('(only brackets)');
  });
});
