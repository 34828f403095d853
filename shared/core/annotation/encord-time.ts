/**
 * Encord timestamps come in several shapes (docs/encord.md §8 Timestamps): the long form
 * `"Thu, 09 Feb 2023 14:12:03 UTC"` (or GMT), `"2023-02-09 14:12:03"`, and ISO-8601 with or
 * without a zone. A missing zone means UTC, as on Encord's servers. Parsed by hand because
 * `Date.parse` accepts other strings differently per engine and reads zoneless ISO as local time.
 */

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

const LONG_FORM = /^(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(UTC|GMT|Z|[+-]\d{2}:?\d{2})?$/;
const NUMERIC_FORM = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/;

/** The instant as an ISO string in UTC (`…Z`, millisecond precision), or null when unreadable. */
export function parseEncordTimestamp(text: string): string | null {
  const trimmed = text.trim();
  const long = LONG_FORM.exec(trimmed);
  if (long) {
    const month = MONTHS[long[2]!.toLowerCase()];
    if (month === undefined) return null;
    return build(Number(long[3]), month, Number(long[1]), Number(long[4]), Number(long[5]), Number(long[6]), long[7], long[8]);
  }
  const numeric = NUMERIC_FORM.exec(trimmed);
  if (numeric) {
    return build(
      Number(numeric[1]), Number(numeric[2]) - 1, Number(numeric[3]),
      Number(numeric[4] ?? 0), Number(numeric[5] ?? 0), Number(numeric[6] ?? 0), numeric[7], numeric[8],
    );
  }
  return null;
}

function build(year: number, month: number, day: number, hour: number, minute: number, second: number, fraction: string | undefined, zone: string | undefined): string | null {
  if (hour > 23 || minute > 59 || second > 59) return null;
  const millis = fraction === undefined ? 0 : Math.floor(Number(`0.${fraction}`) * 1000);
  const local = Date.UTC(year, month, day, hour, minute, second, millis);
  const check = new Date(local);
  // Date.UTC rolls 31 Feb over into March; a date that does not exist is unreadable, not shifted.
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month || check.getUTCDate() !== day) return null;
  const offset = offsetMinutes(zone);
  if (offset === null) return null;
  return new Date(local - offset * 60_000).toISOString();
}

function offsetMinutes(zone: string | undefined): number | null {
  if (zone === undefined || /^(Z|UTC|GMT)$/i.test(zone)) return 0;
  const match = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!match) return null;
  const hours = Number(match[2]);
  const minutes = Number(match[3] ?? 0);
  if (hours > 14 || minutes > 59) return null;
  return (match[1] === "-" ? -1 : 1) * (hours * 60 + minutes);
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Encord's long form, `"Thu, 09 Feb 2023 14:12:03 UTC"` (whole seconds, as Encord writes it). */
export function formatEncordTimestamp(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new Error(`formatEncordTimestamp: not a timestamp: ${iso}`);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[date.getUTCDay()]}, ${pad(date.getUTCDate())} ${MONTH_NAMES[date.getUTCMonth()]} ${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} UTC`;
}
