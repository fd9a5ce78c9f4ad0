/**
 * File type by magic bytes, the way the ecosystem's karton-classifier names things: `kind`
 * (`runnable`, `archive`, `script`, `text`), `platform` (`win32`, `linux`) and `extension`.
 * Pure functions, no I/O.
 */

export interface Classification {
  /** `recognized`, or `unrecognized` (kind `unknown`/`empty`). */
  stage: "recognized" | "unrecognized";
  kind: string;
  platform?: string;
  extension?: string;
  /** A short human description, like the output of `file(1)`. */
  magic: string;
}

const IMAGE_FILE_DLL = 0x2000;
const MACHINES: Readonly<Record<number, string>> = { 332: "Intel 80386", 34404: "x86-64", 43620: "ARM64" };

/** MZ (DOS/PE) executables: `.dll` when the COFF header says so, else `.exe`. */
function classifyMz(data: Buffer): Classification {
  const base = { stage: "recognized", kind: "runnable", platform: "win32" } as const;
  if (data.length >= 0x40) {
    const peOffset = data.readUInt32LE(0x3c);
    if (peOffset + 24 <= data.length && data.toString("latin1", peOffset, peOffset + 4) === "PE\0\0") {
      const machine = data.readUInt16LE(peOffset + 4);
      const characteristics = data.readUInt16LE(peOffset + 22);
      const optionalMagic = peOffset + 26 <= data.length ? data.readUInt16LE(peOffset + 24) : 0;
      const format = optionalMagic === 0x20b ? "PE32+" : "PE32";
      const dll = (characteristics & IMAGE_FILE_DLL) !== 0;
      const arch = MACHINES[machine] ?? `machine 0x${machine.toString(16)}`;
      return {
        ...base,
        extension: dll ? "dll" : "exe",
        magic: `${format} executable (${dll ? "DLL" : "EXE"}) ${arch}, for MS Windows`,
      };
    }
  }
  return { ...base, extension: "exe", magic: "MS-DOS executable" };
}

const ELF_TYPES: Readonly<Record<number, string>> = { 1: "relocatable", 2: "executable", 3: "shared object" };

function classifyElf(data: Buffer): Classification {
  const bits = data[4] === 2 ? "64-bit" : "32-bit";
  const bigEndian = data[5] === 2;
  const type = data.length >= 18 ? (bigEndian ? data.readUInt16BE(16) : data.readUInt16LE(16)) : 0;
  return {
    stage: "recognized",
    kind: "runnable",
    platform: "linux",
    extension: "elf",
    magic: `ELF ${bits} ${bigEndian ? "MSB" : "LSB"} ${ELF_TYPES[type] ?? "file"}`,
  };
}

/** Script extension by interpreter name (`sh`, `bash` → `sh`, `python3` → `py`...). */
export function scriptExtension(interpreter: string): string {
  if (/^(?:ba|da|k|z|c|tc|fi|mk)?sh$/.test(interpreter)) return "sh";
  if (/^python[0-9.]*$/.test(interpreter)) return "py";
  if (/^perl[0-9.]*$/.test(interpreter)) return "pl";
  if (/^ruby[0-9.]*$/.test(interpreter)) return "rb";
  if (/^(?:node|nodejs|deno|bun)$/.test(interpreter)) return "js";
  if (/^php[0-9.]*$/.test(interpreter)) return "php";
  if (/^pwsh$/.test(interpreter)) return "ps1";
  return interpreter.replace(/[^A-Za-z0-9]+/g, "").toLowerCase() || "sh";
}

/** The interpreter named by a `#!` line: the program, or what `env` runs. */
export function shebangInterpreter(firstLine: string): string {
  const words = firstLine.slice(2).trim().split(/\s+/);
  let program = (words[0] ?? "").split("/").pop() ?? "";
  if (program === "env") {
    program = words.slice(1).find((word) => !word.startsWith("-") && !word.includes("=")) ?? "sh";
  }
  return program;
}

function classifyScript(data: Buffer): Classification {
  const end = data.indexOf(0x0a);
  const firstLine = data.toString("utf8", 0, end < 0 ? Math.min(data.length, 256) : Math.min(end, 256));
  const interpreter = shebangInterpreter(firstLine.replace(/\r$/, ""));
  return {
    stage: "recognized",
    kind: "script",
    platform: "linux",
    extension: scriptExtension(interpreter),
    magic: `${interpreter || "shell"} script, ASCII text executable`,
  };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 without NUL bytes and mostly printable. */
export function looksLikeText(data: Buffer): boolean {
  if (data.includes(0)) return false;
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return false;
  }
  let control = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (code < 0x20 && ch !== "\n" && ch !== "\r" && ch !== "\t" && ch !== "\f") control++;
  }
  return control <= text.length / 100;
}

/** Classifies content by its first bytes. */
export function classify(data: Buffer): Classification {
  if (data.length === 0) return { stage: "unrecognized", kind: "empty", magic: "empty" };
  const head = data.toString("latin1", 0, Math.min(4, data.length));
  if (head.startsWith("MZ")) return classifyMz(data);
  if (head === "\x7fELF") return classifyElf(data);
  if (head === "PK\x03\x04" || head === "PK\x05\x06") {
    return { stage: "recognized", kind: "archive", extension: "zip", magic: "Zip archive data" };
  }
  if (head.startsWith("#!")) return classifyScript(data);
  if (looksLikeText(data)) {
    return { stage: "recognized", kind: "text", extension: "txt", magic: "UTF-8 text" };
  }
  return { stage: "unrecognized", kind: "unknown", magic: "data" };
}
