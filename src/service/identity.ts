import { randomBytes } from "node:crypto";
import { InvalidIdentityError } from "./errors.js";

/**
 * Checks an identity (spec §1.3, §11.1): no whitespace, no `?` (it would break client names), and
 * non-empty when `required` (consumers). Throws an {@link InvalidIdentityError} naming it.
 */
export function validateIdentity(identity: string, options: { required: boolean; kind?: string }): void {
  if (typeof identity !== "string") {
    throw new InvalidIdentityError(String(identity), "the identity must be a string");
  }
  if (identity === "") {
    if (options.required) {
      throw new InvalidIdentityError(
        identity,
        `a ${options.kind ?? "consumer"} needs an identity: set "static identity" on the class, pass ` +
          `{ identity } to the constructor, or set [karton] identity / --identity`,
      );
    }
    return;
  }
  if (/\s/.test(identity)) throw new InvalidIdentityError(identity, "identities must not contain whitespace");
  if (identity.includes("?")) {
    throw new InvalidIdentityError(
      identity,
      'identities must not contain "?" (it starts client-name parameters)',
    );
  }
}

/** Debug-mode identity (spec §11.7): `<identity>-<8 random hex chars>-dev`. */
export function debugIdentity(identity: string): string {
  return `${identity}-${randomBytes(4).toString("hex")}-dev`;
}
