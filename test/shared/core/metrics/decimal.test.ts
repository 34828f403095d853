import { describe, expect, it } from "vitest";
import { createPrng } from "../../../../shared/core/demo/prng.ts";
import { decimalToDouble } from "../../../../shared/core/metrics/decimal.ts";

/** The decimal spelling of digits·10^-fractionDigits, as a results file would write it. */
function spell(digits: string, fractionDigits: number): string {
  if (fractionDigits === 0) return digits;
  if (fractionDigits >= digits.length) return `0.${"0".repeat(fractionDigits - digits.length)}${digits}`;
  return `${digits.slice(0, digits.length - fractionDigits)}.${digits.slice(digits.length - fractionDigits)}`;
}

/** True when digits·10^-fractionDigits lies exactly halfway between two doubles. */
function isTie(digits: string, fractionDigits: number): boolean {
  // Halfway points are dyadic with 54 significant bits: 5^s must divide M, and what is left,
  // without its factors of two, must be 54 bits long.
  const five = 5n ** BigInt(fractionDigits);
  let n = BigInt(digits);
  if (n % five !== 0n) return false;
  n /= five;
  while (n % 2n === 0n) n /= 2n;
  return n.toString(2).length === 54;
}

/** decimalToDouble on a 16–19 digit significand, split the way the results reader splits it. */
function convert(digits: string, fractionDigits: number): number {
  return decimalToDouble(Number(digits.slice(0, 15)), digits.length - 15, Number(digits.slice(15)), fractionDigits);
}

describe("decimalToDouble", () => {
  it("rounds 16–19 digit decimals exactly as Number() does, declining only exact ties", () => {
    const prng = createPrng(7);
    let declined = 0;
    let ties = 0;
    let checked = 0;
    const cases: [string, number][] = [];
    // What JSON.stringify writes for scores and coordinates: shortest round-trip spellings.
    for (let i = 0; i < 40_000; i++) {
      const text = String(prng.next() * 10 ** (prng.int(8) - 4));
      if (text.includes("e")) continue;
      const [whole, fraction = ""] = text.split(".");
      const digits = `${whole}${fraction}`.replace(/^0+/, "");
      if (digits.length > 15) cases.push([digits, fraction.length]);
    }
    // Arbitrary significands at every scale the reader hands over.
    for (let i = 0; i < 40_000; i++) {
      let digits = String(1 + prng.int(9));
      const length = 16 + prng.int(4);
      while (digits.length < length) digits += String(prng.int(10));
      cases.push([digits, prng.int(23)]);
    }
    for (const [digits, fractionDigits] of cases) {
      const got = convert(digits, fractionDigits);
      checked++;
      const tie = isTie(digits, fractionDigits);
      if (tie) ties++;
      if (Number.isNaN(got)) {
        declined++;
        expect(tie, `declined ${spell(digits, fractionDigits)}, which is not a tie`).toBe(true);
      } else {
        expect(got, spell(digits, fractionDigits)).toBe(Number(spell(digits, fractionDigits)));
      }
    }
    expect(checked).toBeGreaterThan(60_000);
    // The generated cases do include ties (short integers at large magnitudes), and every one of
    // them is left to Number().
    expect(ties).toBeGreaterThan(0);
    expect(declined).toBe(ties);
  });

  it("declines exact ties (the caller then asks Number(), which rounds them to even)", () => {
    // 2^53 + 1 and 2^54 + 2 lie exactly halfway between two doubles.
    expect(convert("9007199254740993", 0)).toBeNaN();
    expect(convert("18014398509481986", 0)).toBeNaN();
    // One unit either side is not a tie, and rounds the way Number() rounds it — also just above
    // a power of two, where the gap below is half the gap above.
    expect(convert("9007199254740994", 0)).toBe(9007199254740994);
    expect(convert("18014398509481987", 0)).toBe(Number("18014398509481987"));
    expect(convert("18014398509481985", 0)).toBe(Number("18014398509481985"));
  });

  it("handles significands next to a power of two, where the gap below is half the gap above", () => {
    for (const value of [2 ** 60, 2 ** 57, 2 ** 54]) {
      const digits = BigInt(value).toString();
      for (const delta of [-3n, -1n, 0n, 1n, 3n]) {
        const text = (BigInt(value) + delta).toString();
        const got = convert(text, 0);
        if (!Number.isNaN(got)) expect(got, text).toBe(Number(text));
      }
      expect(convert(digits, 0)).toBe(value);
    }
  });
});
