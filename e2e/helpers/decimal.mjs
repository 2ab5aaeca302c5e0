// Exact decimal arithmetic for checking money shown by the dashboard: numbers are BigInt units
// at a decimal scale, so no float rounding can make a wrong figure look right (or a right one
// look wrong). Only what the tests need: parse, add, subtract, multiply, round, format.

/** A decimal: `units / 10^scale`. */
export class Decimal {
  constructor(units, scale) {
    this.units = units;
    this.scale = scale;
  }

  /** Parses "123", "-0.001", "+4.50" (what rust_decimal writes in JSON); throws on anything else. */
  static parse(text) {
    const match = /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(String(text).trim());
    if (!match) throw new Error(`not a decimal number: ${JSON.stringify(text)}`);
    const [, sign, whole, fraction = ""] = match;
    const units = BigInt(whole + fraction) * (sign === "-" ? -1n : 1n);
    return new Decimal(units, fraction.length);
  }

  /** This value with `scale` places (only ever widens). */
  widen(scale) {
    if (scale < this.scale) throw new Error("widen cannot drop places; use round()");
    return new Decimal(this.units * 10n ** BigInt(scale - this.scale), scale);
  }

  add(other) {
    const scale = Math.max(this.scale, other.scale);
    return new Decimal(this.widen(scale).units + other.widen(scale).units, scale);
  }

  sub(other) {
    const scale = Math.max(this.scale, other.scale);
    return new Decimal(this.widen(scale).units - other.widen(scale).units, scale);
  }

  mul(other) {
    return new Decimal(this.units * other.units, this.scale + other.scale);
  }

  /** Rounded to `places`, half away from zero (rust_decimal's MidpointAwayFromZero). */
  round(places) {
    if (places >= this.scale) return this.widen(places);
    const divisor = 10n ** BigInt(this.scale - places);
    const negative = this.units < 0n;
    const magnitude = negative ? -this.units : this.units;
    let quotient = magnitude / divisor;
    if ((magnitude % divisor) * 2n >= divisor) quotient += 1n;
    return new Decimal(negative ? -quotient : quotient, places);
  }

  isZero() {
    return this.units === 0n;
  }

  isNegative() {
    return this.units < 0n;
  }

  /** The plain text, e.g. "-12.300". */
  toString() {
    const negative = this.units < 0n;
    const digits = (negative ? -this.units : this.units).toString().padStart(this.scale + 1, "0");
    const whole = digits.slice(0, digits.length - this.scale);
    const fraction = this.scale ? `.${digits.slice(digits.length - this.scale)}` : "";
    return `${negative ? "-" : ""}${whole}${fraction}`;
  }
}

/** `value` rounded to `places` with thousands separators, "-" only when the rounded value is not zero. */
export function grouped(value, places) {
  const rounded = value.round(places);
  const text = new Decimal(rounded.isNegative() ? -rounded.units : rounded.units, places).toString();
  const [whole, fraction] = text.split(".");
  const withCommas = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const body = fraction === undefined ? withCommas : `${withCommas}.${fraction}`;
  return rounded.isNegative() && !rounded.isZero() ? `-${body}` : body;
}

/** A profit or loss the way the dashboard writes it: "+1,234.56 USD", "-4.00 USD", "0.00 USD". */
export function signedMoney(value, currency) {
  const text = grouped(value, 2);
  const rounded = value.round(2);
  const sign = !rounded.isZero() && !rounded.isNegative() ? "+" : "";
  return `${sign}${text} ${currency}`;
}
