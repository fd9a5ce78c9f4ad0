/**
 * The filter engine against the truth table produced by the real Python matcher (karton-core 5.9.1):
 * binds/filter-matches.json, and every bind's filters of binds/binds.json (raw values, as the router
 * reads them from Redis).
 */
import { describe, expect, it } from "vitest";
import { compileFilters, matchFilters } from "../../src/filters/index.js";
import { isJsonObject, type JsonObject, parse } from "../../src/json/index.js";
import { readFixtureJson } from "../helpers/fixtures.js";

const matches = readFixtureJson("binds/filter-matches.json") as JsonObject;
const filtersById = matches.filters as JsonObject;
const probes = matches.probes as JsonObject[];

describe("binds/filter-matches.json (Python truth table)", () => {
  for (const [i, probe] of probes.entries()) {
    const headers = probe.headers as JsonObject;
    const expected = probe.matches as JsonObject;
    it(`probe ${i}: ${JSON.stringify(headers)}`, () => {
      for (const [identity, want] of Object.entries(expected)) {
        const filters = filtersById[identity];
        expect(compileFilters(filters).matches(headers), identity).toBe(want);
        expect(compileFilters(filters, { validate: false }).matches(headers), identity).toBe(want);
        expect(matchFilters(filters, headers), identity).toBe(want);
      }
    });
  }

  it("covers every bind of the table", () => {
    expect(Object.keys(filtersById).length).toBe(5);
    expect(probes.length).toBeGreaterThan(10);
  });
});

describe("binds/binds.json", () => {
  const binds = (readFixtureJson("binds/binds.json") as JsonObject).binds as JsonObject[];
  for (const bind of binds) {
    it(`compiles the filters of ${String(bind.hash_field)} (parsed from raw)`, () => {
      const value = parse(bind.raw as string);
      expect(isJsonObject(value)).toBe(true);
      const filters = (value as JsonObject).filters;
      const compiled = compileFilters(filters);
      expect(compiled.ruleCount).toBe((filters as unknown[]).length);
      // Same filters as the truth table (keys sorted by Python, which does not change semantics).
      const table = filtersById[bind.hash_field as string];
      for (const probe of probes) {
        const headers = probe.headers as JsonObject;
        expect(compiled.matches(headers)).toBe(compileFilters(table).matches(headers));
      }
    });
  }
});
