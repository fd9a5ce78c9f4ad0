/** karton-ts library version: written as `version` into binds and as `karton_version` into client names. */
export const LIBRARY_VERSION = "0.1.0";
