// The exact decimal helper the P&L checks rely on, against the dashboard's own formatting cases
// (crates/server/src/dashboard/format.rs tests): if this is wrong, the overview check proves nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Decimal, grouped, signedMoney } from "../helpers/decimal.mjs";

const d = (text) => Decimal.parse(text);

test("decimal arithmetic is exact", () => {
  assert.equal(d("0.1").add(d("0.2")).toString(), "0.3");
  assert.equal(d("0.57778300").mul(d("3224.99")).toString(), "1863.3443971700");
  assert.equal(d("1").sub(d("1.0001")).toString(), "-0.0001");
  assert.equal(d("-12.345").round(2).toString(), "-12.35");
  assert.equal(d("12.344999").round(2).toString(), "12.34");
  assert.equal(d("2.5").round(0).toString(), "3");
  assert.equal(d("-2.5").round(0).toString(), "-3");
  assert.throws(() => d("1e5"), /not a decimal/);
});

test("money is formatted like the dashboard: sign, separators, 2 places, half away from zero", () => {
  assert.equal(grouped(d("1234567.891"), 2), "1,234,567.89");
  assert.equal(grouped(d("0.005"), 2), "0.01");
  assert.equal(grouped(d("-999.994"), 2), "-999.99");
  assert.equal(grouped(d("1000"), 0), "1,000");
  assert.equal(grouped(d("100"), 0), "100");
  assert.equal(signedMoney(d("12.3"), "USD"), "+12.30 USD");
  assert.equal(signedMoney(d("-4"), "USD"), "-4.00 USD");
  assert.equal(signedMoney(d("-0.001"), "USD"), "0.00 USD");
  assert.equal(signedMoney(d("0"), "EUR"), "0.00 EUR");
  assert.equal(signedMoney(d("143.80501995728294"), "USD"), "+143.81 USD");
  assert.equal(signedMoney(d("-1234.565"), "USD"), "-1,234.57 USD");
});
