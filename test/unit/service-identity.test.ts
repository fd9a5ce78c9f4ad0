import { describe, expect, it } from "vitest";
import { InvalidIdentityError } from "../../src/service/errors.js";
import { debugIdentity, validateIdentity } from "../../src/service/identity.js";

describe("validateIdentity", () => {
  it("accepts ordinary identities", () => {
    expect(() => validateIdentity("karton.classifier", { required: true })).not.toThrow();
    expect(() => validateIdentity("a-b_c.d/e", { required: true })).not.toThrow();
  });

  it("refuses an empty identity for consumers only", () => {
    expect(() => validateIdentity("", { required: false })).not.toThrow();
    expect(() => validateIdentity("", { required: true })).toThrow(InvalidIdentityError);
    expect(() => validateIdentity("", { required: true })).toThrow(/needs an identity.*static identity/);
  });

  it("refuses whitespace and '?' with a message naming the identity", () => {
    expect(() => validateIdentity("karton classifier", { required: false })).toThrow(
      /Invalid service identity "karton classifier": identities must not contain whitespace/,
    );
    expect(() => validateIdentity("karton\tx", { required: false })).toThrow(InvalidIdentityError);
    expect(() => validateIdentity("karton.x?y=1", { required: false })).toThrow(/"karton.x\?y=1".*"\?"/);
    try {
      validateIdentity("a b", { required: false });
    } catch (error) {
      expect((error as InvalidIdentityError).code).toBe("INVALID_IDENTITY");
      expect((error as InvalidIdentityError).identity).toBe("a b");
    }
  });
});

describe("debugIdentity", () => {
  it("adds -<8 hex>-dev (spec §11.7)", () => {
    const id = debugIdentity("karton.x");
    expect(id).toMatch(/^karton\.x-[0-9a-f]{8}-dev$/);
    expect(debugIdentity("karton.x")).not.toBe(id);
  });
});
