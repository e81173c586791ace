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
