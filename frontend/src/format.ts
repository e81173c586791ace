import dayjs from 'dayjs';
import type { TFunction } from 'i18next';

/** "12 秒" / "3 分 5 秒" / "2 小时 4 分" in the current language. */
export function formatDuration(totalSeconds: number, t: TFunction): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  if (s < 60) return t('duration.seconds', { s });
  if (s < 3600) return t('duration.minutes', { m: Math.floor(s / 60), s: s % 60 });
  return t('duration.hours', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

/** Milliseconds with one decimal, e.g. "3.6 ms"; null when not measured. */
export function formatLatency(ms: number | null | undefined): string | null {
  return typeof ms === 'number' ? `${ms.toFixed(1)} ms` : null;
}

/** "98.0000" → "98.00", "-0.005" → "-0.01": a decimal string of the API (money is never a
 * float in JSON) rounded half away from zero to 2 decimals, exactly; "—" for nothing. */
export function money(value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  const match = /^([+-]?)(\d+)(?:\.(\d*))?$/.exec(value.trim());
  if (!match) {
    const n = Number(value);
    return Number.isFinite(n) ? n.toFixed(2) : value;
  }
  const [, sign = '', whole = '0', decimals = ''] = match;
  let cents = BigInt(whole) * 100n + BigInt(decimals.slice(0, 2).padEnd(2, '0'));
  if ((decimals[2] ?? '0') >= '5') cents += 1n;
  const text = `${(cents / 100n).toString()}.${(cents % 100n).toString().padStart(2, '0')}`;
  return sign === '-' && cents > 0n ? `-${text}` : text;
}

/** "¥12.50" for display; "—" for nothing. */
export function yuan(value: string | null | undefined): string {
  const text = money(value);
  if (text === '—') return text;
  return text.startsWith('-') ? `-¥${text.slice(1)}` : `¥${text}`;
}

/** A movement of money with its sign always shown: "+¥50.00", "-¥12.50", "¥0.00". */
export function signedYuan(value: string | null | undefined): string {
  const text = yuan(value);
  return text === '—' || text.startsWith('-') || text === '¥0.00' ? text : `+${text}`;
}

/** "2026-11-23 16:00:30" in the browser's time zone; "—" for nothing. */
export function formatTime(iso: string | null | undefined): string {
  return iso ? dayjs(iso).format('YYYY-MM-DD HH:mm:ss') : '—';
}

/** A short name for a browser from its user agent, e.g. "Chrome 126 · Windows". */
export function describeDevice(userAgent: string | null | undefined): string {
  if (!userAgent) return '—';
  const browsers: [RegExp, string][] = [
    [/Edg\/(\d+)/, 'Edge'],
    [/OPR\/(\d+)/, 'Opera'],
    [/Firefox\/(\d+)/, 'Firefox'],
    [/HeadlessChrome\/(\d+)/, 'Headless Chrome'],
    [/Chrome\/(\d+)/, 'Chrome'],
    [/Version\/(\d+).*Safari/, 'Safari'],
  ];
  const systems: [RegExp, string][] = [
    [/Windows/, 'Windows'],
    [/Android/, 'Android'],
    [/iPhone|iPad|iOS/, 'iOS'],
    [/Mac OS X|Macintosh/, 'macOS'],
    [/Linux/, 'Linux'],
  ];
  let browser: string | null = null;
  for (const [pattern, name] of browsers) {
    const match = pattern.exec(userAgent);
    if (match) {
      browser = `${name} ${match[1] ?? ''}`.trim();
      break;
    }
  }
  const system = systems.find(([pattern]) => pattern.test(userAgent))?.[1] ?? null;
  const parts = [browser, system].filter((p): p is string => !!p);
  return parts.length > 0 ? parts.join(' · ') : userAgent.slice(0, 60);
}

/** "新设备登录提醒 / New sign-in" (the server's bilingual texts) → the part in the UI language. */
export function localizedText(text: string, english: boolean): string {
  const parts = text.split(' / ');
  if (parts.length !== 2) return text;
  return (english ? parts[1] : parts[0]) ?? text;
}

/** "余额不足 (the balance is too low)" (the server's bilingual details) → the part in the UI
 * language; a text without an English part in brackets is returned as it is. */
export function localizedDetail(text: string, english: boolean): string {
  const match = /^(.*?)\s*\(([^()]*)\)\s*$/.exec(text.trim());
  if (!match?.[1] || !match[2]) return text.trim();
  return english ? match[2] : match[1];
}
