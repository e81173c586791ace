import { keepPreviousData, useInfiniteQuery } from '@tanstack/react-query';

import { auditExport } from '../client';
import { auditListInfiniteOptions } from '../client/@tanstack/react-query.gen';
import { cursorPages } from './common';

/** The operation log's filters, as the API takes them (times are ISO 8601). */
export interface AuditFilters {
  actor_id?: number;
  action?: string;
  target_type?: string;
  target_id?: string;
  result?: string;
  since?: string;
  until?: string;
}

export const AUDIT_PAGE = 50;

/** `audit:list` — newest first; "load more" passes the last page's next_before_id. */
export function useAuditLog(filters: AuditFilters) {
  return useInfiniteQuery({
    ...cursorPages(auditListInfiniteOptions, { query: { ...filters, limit: AUDIT_PAGE } }, (last) => last.next_before_id),
    placeholderData: keepPreviousData,
  });
}

/** The file name in a content-disposition header, if any. */
export function attachmentName(header: string | null): string | null {
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header ?? '');
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

/**
 * `audit:export` — the CSV of the filtered log, fetched through the client (so it carries the
 * access token, refreshes on 401) as a blob, then saved by the browser.
 */
export async function exportAuditLog(filters: AuditFilters): Promise<string> {
  const { data, response } = await auditExport({ query: filters, parseAs: 'blob', throwOnError: true });
  const name = attachmentName(response.headers.get('content-disposition')) ?? 'operation-log.csv';
  const blob = isBlob(data) ? data : new Blob([typeof data === 'string' ? data : ''], { type: 'text/csv' });
  saveBlob(blob, name);
  return name;
}

/** A fetched body that is a Blob. */
export function isBlob(value: unknown): value is Blob {
  // not `instanceof`: the fetch implementation's Blob may be another realm's
  return typeof value === 'object' && value !== null && 'size' in value && 'type' in value && 'slice' in value;
}

/** Let the browser save `blob` as `name`. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  // freed late: a busy browser may start reading the blob seconds after the click (FileSaver.js
  // waits 40 s for the same reason)
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 40_000);
}
