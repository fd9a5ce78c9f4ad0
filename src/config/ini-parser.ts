/**
 * A reader for the INI dialect of Python's `configparser.ConfigParser()` with default settings,
 * which is what Python Karton uses to read `karton.ini`:
 *
 * - `[section]` headers; section names are case-sensitive and kept verbatim (`[ redis ]` is the
 *   section `" redis "`). `[DEFAULT]` (exact case) holds options that appear in every section;
 *   a section's own value wins.
 * - `name = value` or `name : value`; the first `=` or `:` on the line is the delimiter. Option names
 *   are stripped and lower-cased; values are stripped; empty values are allowed; a line without a
 *   delimiter is an error (no valueless options).
 * - Lines whose first non-blank character is `#` or `;` are comments, wherever they are. Inline
 *   comments are **not** stripped: `port = 6379 # redis` has the value `"6379 # redis"`.
 * - A line indented deeper than its option line continues the value; the parts are joined with
 *   `"\n"`. Blank lines inside a value are kept, trailing blank lines dropped.
 * - Duplicate sections or options inside one file are errors (`strict=True`). Reading several files
 *   into one {@link IniDocument} merges them option by option, later files winning.
 * - BasicInterpolation: `%(name)s` is replaced by the (interpolated) value of `name` from the same
 *   section or `[DEFAULT]`, nesting at most {@link MAX_INTERPOLATION_DEPTH} levels; `%%` is a
 *   literal `%`; any other `%` is an error. Interpolation runs on the merged result of all files,
 *   so a file may refer to options defined in an earlier one.
 *
 * Errors are {@link ConfigError}s naming the file and line.
 */
import { ConfigError } from "./errors.js";
import { isSecretOption } from "./redact.js";

/** Name of the section whose options are inherited by every other section. */
export const DEFAULT_SECTION = "DEFAULT";

/** Python's `configparser.MAX_INTERPOLATION_DEPTH`. */
export const MAX_INTERPOLATION_DEPTH = 10;

/** Where an option was defined. */
export interface IniLocation {
  file: string;
  /** 1-based line of the `name = value` line (continuation lines are not counted). */
  line: number;
}

/** An option as written in a file, before interpolation. */
export interface IniRawOption {
  /** The value with continuation lines joined by `"\n"`. */
  value: string;
  location: IniLocation;
}

/** An option after interpolation. */
export interface IniValue {
  value: string;
  location: IniLocation;
  /** True when the section does not define the option itself and inherits it from `[DEFAULT]`. */
  fromDefault: boolean;
}

const SECTION_HEADER = /^\[(.+)\]/;
const OPTION_LINE = /^(.*?)\s*([=:])\s*(.*)$/;
const INTERPOLATION_KEY = /^%\(([^)]+)\)s/;

/**
 * The accumulated content of one or more INI files, like a Python `ConfigParser` after
 * `read([...paths])`.
 */
export class IniDocument {
  /** Options of `[DEFAULT]`, raw. */
  readonly defaults = new Map<string, IniRawOption>();
  /** Sections (without `[DEFAULT]`) in order of first appearance, raw options. */
  readonly sections = new Map<string, Map<string, IniRawOption>>();

  /**
   * Adds the content of one file. `fileName` is only used in error messages and locations.
   * On error the document may hold part of the file.
   */
  read(text: string, fileName: string): void {
    const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    // Per-option pieces of the current file, joined at the end (configparser joins after the file).
    const pieces = new Map<IniRawOption, string[]>();
    const seenSections = new Set<string>();
    const seenOptions = new Map<string, number>();
    const sectionLines = new Map<string, number>();
    let current: Map<string, IniRawOption> | undefined;
    let currentName = "";
    let currentOption: IniRawOption | undefined;
    let indentLevel = 0;

    lines.forEach((line, index) => {
      const lineno = index + 1;
      const stripped = line.trim();
      const isComment = stripped.startsWith("#") || stripped.startsWith(";");
      if (isComment || stripped === "") {
        // A blank line belongs to the current value (dropped later if trailing); comments vanish.
        if (!isComment && currentOption) pieces.get(currentOption)?.push("");
        return;
      }
      const indent = line.search(/\S/);
      if (currentOption && indent > indentLevel) {
        pieces.get(currentOption)?.push(stripped);
        return;
      }
      indentLevel = indent;

      const header = SECTION_HEADER.exec(stripped);
      if (header) {
        const name = header[1] as string;
        if (name === DEFAULT_SECTION) {
          current = this.defaults;
        } else {
          if (seenSections.has(name)) {
            throw new ConfigError(
              `${fileName}:${lineno}: duplicate section [${name}] (already defined at line ${sectionLines.get(name)})`,
              { file: fileName, line: lineno, section: name },
            );
          }
          seenSections.add(name);
          sectionLines.set(name, lineno);
          let section = this.sections.get(name);
          if (!section) {
            section = new Map();
            this.sections.set(name, section);
          }
          current = section;
        }
        currentName = name;
        currentOption = undefined;
        return;
      }
      if (!current) {
        throw new ConfigError(
          `${fileName}:${lineno}: expected a [section] header before the first option (the file has no section headers)`,
          { file: fileName, line: lineno },
        );
      }
      const option = OPTION_LINE.exec(stripped);
      const optionName = option?.[1]?.trimEnd().toLowerCase() ?? "";
      if (!option || optionName === "") {
        throw new ConfigError(
          `${fileName}:${lineno}: in section [${currentName}]: expected "name = value", "name: value", ` +
            `a [section] header or a comment`,
          { file: fileName, line: lineno, section: currentName },
        );
      }
      const key = `${currentName}\0${optionName}`;
      const previousLine = seenOptions.get(key);
      if (previousLine !== undefined) {
        throw new ConfigError(
          `${fileName}:${lineno}: duplicate option "${optionName}" in section [${currentName}] ` +
            `(already defined at line ${previousLine})`,
          { file: fileName, line: lineno, section: currentName, option: optionName },
        );
      }
      seenOptions.set(key, lineno);
      const raw: IniRawOption = { value: "", location: { file: fileName, line: lineno } };
      pieces.set(raw, [(option[3] as string).trim()]);
      current.set(optionName, raw);
      currentOption = raw;
    });

    for (const [raw, parts] of pieces) raw.value = parts.join("\n").trimEnd();
  }

  /**
   * Interpolated values of every section, like iterating a Python `ConfigParser` as a mapping:
   * `[DEFAULT]` first (only if it has options), then each section with its own options followed by
   * the inherited `[DEFAULT]` options it does not override.
   */
  resolve(): Map<string, Map<string, IniValue>> {
    const result = new Map<string, Map<string, IniValue>>();
    if (this.defaults.size > 0) {
      const values = new Map<string, IniValue>();
      for (const [name, raw] of this.defaults) {
        values.set(name, {
          value: interpolateOption(DEFAULT_SECTION, name, raw, this.defaults),
          location: raw.location,
          fromDefault: false,
        });
      }
      result.set(DEFAULT_SECTION, values);
    }
    for (const [sectionName, options] of this.sections) {
      const scope = new Map([...this.defaults, ...options]);
      const values = new Map<string, IniValue>();
      for (const [name, raw] of options) {
        values.set(name, {
          value: interpolateOption(sectionName, name, raw, scope),
          location: raw.location,
          fromDefault: false,
        });
      }
      for (const [name, raw] of this.defaults) {
        if (values.has(name)) continue;
        values.set(name, {
          value: interpolateOption(sectionName, name, raw, scope),
          location: raw.location,
          fromDefault: true,
        });
      }
      result.set(sectionName, values);
    }
    return result;
  }

  /** {@link IniDocument.resolve} as plain objects of strings. */
  toObject(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const [section, values] of this.resolve()) {
      const target: Record<string, string> = {};
      for (const [name, entry] of values) target[name] = entry.value;
      out[section] = target;
    }
    return out;
  }
}

/** Parses one INI text and returns its interpolated sections (`[DEFAULT]` included if not empty). */
export function parseIni(text: string, fileName = "<string>"): Record<string, Record<string, string>> {
  const doc = new IniDocument();
  doc.read(text, fileName);
  return doc.toObject();
}

/**
 * Expands `%(name)s` and `%%` in the raw value of `[section] option`, `scope` being the raw options
 * visible from that section (its own and `[DEFAULT]`'s).
 */
function interpolateOption(
  section: string,
  option: string,
  raw: IniRawOption,
  scope: ReadonlyMap<string, IniRawOption>,
): string {
  const where = `${raw.location.file}:${raw.location.line}`;
  function fail(problem: string): never {
    throw new ConfigError(`${where}: bad interpolation in [${section}] ${option}: ${problem}`, {
      section,
      option,
      file: raw.location.file,
      line: raw.location.line,
    });
  }
  const out: string[] = [];

  // `owner` is the option whose raw text `rest` comes from, to decide whether it may be quoted.
  const expand = (rest: string, owner: string, depth: number): void => {
    if (depth > MAX_INTERPOLATION_DEPTH) {
      fail(`references nested deeper than ${MAX_INTERPOLATION_DEPTH} levels (is there a reference loop?)`);
    }
    const quote = (text: string): string => {
      const via = owner === option ? "" : ` (in the value of "${owner}", referenced from "${option}")`;
      return isSecretOption(section, owner) ? via : `${via}: ${JSON.stringify(text)}`;
    };
    let text = rest;
    while (text.length > 0) {
      const p = text.indexOf("%");
      if (p < 0) {
        out.push(text);
        return;
      }
      if (p > 0) {
        out.push(text.slice(0, p));
        text = text.slice(p);
      }
      const next = text.charAt(1);
      if (next === "%") {
        out.push("%");
        text = text.slice(2);
      } else if (next === "(") {
        const key = INTERPOLATION_KEY.exec(text);
        if (!key) fail(`bad reference, expected %(name)s${quote(text)}`);
        const name = (key[1] as string).toLowerCase();
        text = text.slice(key[0].length);
        const target = scope.get(name);
        if (!target) {
          fail(
            `%(${name})s refers to an option that is not defined in ` +
              (section === DEFAULT_SECTION
                ? `[${DEFAULT_SECTION}]`
                : `[${section}] or [${DEFAULT_SECTION}]`) +
              ` (write %% for a literal percent sign)`,
          );
        }
        const value = target.value;
        if (value.includes("%")) expand(value, name, depth + 1);
        else out.push(value);
      } else {
        fail(`'%' must be followed by '%' or '(' (write %% for a literal percent sign)${quote(text)}`);
      }
    }
  };

  expand(raw.value, option, 1);
  return out.join("");
}
