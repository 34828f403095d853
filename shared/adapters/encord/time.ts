/**
 * Encord timestamps come in several shapes (docs/encord.md §8 Timestamps): ISO without a zone (UTC)
 * with microseconds, ISO with an offset, `YYYY-MM-DD HH:MM:SS`, and `Thu, 09 Feb 2023 14:12:03 UTC`.
 * Everything is normalised to one fixed-width UTC form with microseconds,
 * `2023-03-21T09:58:08.472959+00:00` (Python `isoformat()`, which the SDK sends), so that:
 * - strings compare in time order, and
 * - a cursor keeps Encord's microseconds: rounding to JS milliseconds would make `edited_after`
 *   return the newest row again on every poll.
 */

const ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::(\d{2}))?(?:[.,](\d+))?\s*(Z|z|[+-]\d{2}:?\d{2}|UTC|GMT)?$/;

/** The normalised form, or null when the text is not a timestamp. */
export function normaliseEncordTime(text: string): string | null {
  const trimmed = text.trim();
  const m = ISO.exec(trimmed);
  let millis: number;
  let micros = 0;
  if (m) {
    const zone = !m[5] || /^(z|utc|gmt)$/i.test(m[5]) ? "Z" : m[5].includes(":") ? m[5] : `${m[5].slice(0, 3)}:${m[5].slice(3)}`;
    millis = Date.parse(`${m[1]}T${m[2]}:${m[3] ?? "00"}${zone}`);
    micros = Number((m[4] ?? "").slice(0, 6).padEnd(6, "0"));
  } else {
    // RFC 1123 style, as label rows write it.
    millis = /[a-z]{3},/i.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  }
  if (Number.isNaN(millis)) return null;
  const whole = new Date(millis).toISOString().slice(0, 19);
  return `${whole}.${String(micros).padStart(6, "0")}+00:00`;
}

/** Normalises a `Date` (millisecond precision). */
export function encordTimeOf(date: Date): string {
  return `${date.toISOString().slice(0, 19)}.${String(date.getUTCMilliseconds() * 1000).padStart(6, "0")}+00:00`;
}
