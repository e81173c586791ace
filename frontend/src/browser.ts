/**
 * Leaving the SPA for another site (the payment gateway's pay page) and making ids in the
 * browser. An object, so tests can replace its methods (`vi.spyOn(browser, 'leaveTo')`).
 */
export const browser = {
  /** A full page load of `url` (the gateway sends the buyer back to one of our pages). */
  leaveTo(url: string): void {
    window.location.assign(url);
  },

  /** A random UUID v4: `crypto.randomUUID()` where the page is a secure context, else built
   * from `crypto.getRandomValues()` (which every browser offers everywhere). */
  uuid(): string {
    if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
    b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  },
};
