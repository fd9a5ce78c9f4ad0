/**
 * Python's `repr()` / `str()` of a float (they are the same since Python 3.2).
 *
 * Python prints the shortest digit string that reads back as the same double (as JavaScript does), but
 * lays it out differently: fixed notation when the decimal exponent is in [-4, 16), scientific otherwise,
 * with an exponent of at least two digits and an explicit sign (`1e-05`, `1e+16`, `1.5e+300`), and a
 * trailing `.0` on integral values in fixed notation (`1.0`, `9007199254740992.0`).
 *
 * Non-finite values give Python's `nan`, `inf` and `-inf` (the JSON writer uses the tokens `NaN`,
 * `Infinity` and `-Infinity` instead; see {@link pyFloatJson}).
 */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Number.POSITIVE_INFINITY) return "inf";
  if (n === Number.NEGATIVE_INFINITY) return "-inf";
  return finiteRepr(n);
}

/** A float as Python's `json.dumps` writes it: `repr()`, but `NaN`, `Infinity`, `-Infinity` for non-finite values. */
export function pyFloatJson(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "Infinity";
  if (n === Number.NEGATIVE_INFINITY) return "-Infinity";
  return finiteRepr(n);
}

function finiteRepr(n: number): string {
  if (n === 0) return Object.is(n, -0) ? "-0.0" : "0.0";
  const a = n < 0 ? -n : n;
  // The shortest repr of a double is monotonic in its value, so comparing with the doubles nearest to
  // 1e-4 and 1e16 decides the decimal exponent exactly.
  if (a >= 1e-4 && a < 1e16) {
    // JavaScript uses fixed notation for 1e-7 <= |n| < 1e21, with the same shortest digits.
    const s = "" + n;
    return Number.isInteger(n) ? s + ".0" : s;
  }
  // toExponential() without an argument gives the shortest round-trip digits: "1.5e+300", "1e-7".
  const e = n.toExponential();
  const k = e.indexOf("e");
  // e[k + 1] is the sign; Python pads the exponent to at least two digits.
  return e.length - k - 2 < 2 ? e.slice(0, k + 2) + "0" + e.slice(k + 2) : e;
}
