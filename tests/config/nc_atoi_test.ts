import assert from "assert";
import { isValidPort, ncAtoi } from "../../src/config/nc_atoi.ts";

Deno.test("ncAtoi reads plain decimal digits, leading zeros included", () => {
  assert.equal(ncAtoi("0"), 0);
  assert.equal(ncAtoi("400"), 400);
  assert.equal(ncAtoi("010"), 10);
  assert.equal(ncAtoi("2147483647"), 2147483647);
});

Deno.test("ncAtoi refuses signs, spaces, hex, exponents and the empty string", () => {
  for (const text of ["", "-5", "+5", " 5", "5 ", "0x10", "1e3", "1.5", "٣"]) {
    assert.equal(ncAtoi(text), -1, text);
  }
});

Deno.test("ncAtoi wraps in 32 bits like nutcracker's int, refusing what wraps negative", () => {
  assert.equal(ncAtoi("2147483648"), -1);
  assert.equal(ncAtoi("4294967295"), -1);
  assert.equal(ncAtoi("4294967296"), 0);
  assert.equal(ncAtoi("4294967297"), 1);
  assert.equal(ncAtoi("4294989417"), 22121);
});

Deno.test("isValidPort accepts 1 to 65535 only", () => {
  assert.deepEqual([0, 1, 65535, 65536, -1].map(isValidPort), [false, true, true, false, false]);
});
