/**
 * Python-style traceback lines for errors (the task `error` field, spec §2.6, and the `exc*` fields
 * of log records, spec §8.2).
 *
 * Layout, as `traceback.format_exception` returns it: the first element is
 * `"Traceback (most recent call last):\n"`, then one element per stack frame, oldest call first
 * (`'  File "<path>", line <n>, in <function>\n'`), then `"<ErrorName>: <message>\n"`. Every element
 * ends with `"\n"` because the dashboard joins them with no separator. A `cause` chain is printed
 * first, joined by Python's "direct cause" sentence.
 */
import { fileURLToPath } from "node:url";

/** One parsed V8 stack frame. */
export interface StackFrame {
  /** File path (file URLs converted to paths), or `<anonymous>`/`native` when V8 gives none. */
  file: string;
  line: number;
  column: number;
  /** Function name as V8 prints it (`Foo.bar`, `new Foo`, `async run`), `<module>` for top-level code. */
  functionName: string;
}

const HEADER = "Traceback (most recent call last):\n";
const CAUSE_SEPARATOR = "\nThe above exception was the direct cause of the following exception:\n\n";
const MAX_CAUSES = 10;

const WITH_NAME = /^\s*at (.*?) \((.*)\)$/;
const WITHOUT_NAME = /^\s*at (.*)$/;
const LOCATION = /^(.*):(\d+):(\d+)$/;

/** Parses one `    at ...` line of a V8 stack; undefined for other lines. */
export function parseStackLine(line: string): StackFrame | undefined {
  let functionName: string;
  let location: string;
  const named = WITH_NAME.exec(line);
  if (named) {
    functionName = named[1] as string;
    location = named[2] as string;
  } else {
    const bare = WITHOUT_NAME.exec(line);
    if (!bare) return undefined;
    functionName = "<module>";
    location = bare[1] as string;
  }
  const loc = LOCATION.exec(location);
  let file = loc ? (loc[1] as string) : location;
  if (file.startsWith("file://")) {
    try {
      file = fileURLToPath(file);
    } catch {
      // keep the URL
    }
  }
  return {
    file,
    line: loc ? Number(loc[2]) : 0,
    column: loc ? Number(loc[3]) : 0,
    functionName,
  };
}

/** Parsed frames of an error's stack, most recent call first (V8 order). */
export function stackFrames(error: unknown): StackFrame[] {
  const stack = error instanceof Error && typeof error.stack === "string" ? error.stack : "";
  const frames: StackFrame[] = [];
  for (const line of stack.split("\n")) {
    const frame = parseStackLine(line);
    if (frame) frames.push(frame);
  }
  return frames;
}

/** `ErrorName` of a thrown value (`Error` for thrown non-errors). */
export function errorTypeName(error: unknown): string {
  if (error instanceof Error) return error.name || error.constructor?.name || "Error";
  return "Error";
}

/** The message of a thrown value (Python's `str(exc)`). */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  try {
    return String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}

/** The last traceback element: `"Name: message\n"`, or `"Name\n"` for an empty message. */
export function exceptionLine(error: unknown): string {
  const message = errorMessage(error);
  const name = errorTypeName(error);
  return message === "" ? `${name}\n` : `${name}: ${message}\n`;
}

/** `'  File "<path>", line <n>, in <function>\n'` for one frame. */
export function frameLine(frame: StackFrame): string {
  return `  File "${frame.file}", line ${frame.line}, in ${frame.functionName}\n`;
}

/** Traceback lines of one error without its causes. */
function singleTraceback(error: unknown): string[] {
  const frames = stackFrames(error).reverse();
  return [HEADER, ...frames.map(frameLine), exceptionLine(error)];
}

/**
 * Python `traceback.format_exception(exc)`: the list of strings described in the module comment.
 * Every element ends with `"\n"`.
 */
export function formatException(error: unknown): string[] {
  const chain: unknown[] = [error];
  let current: unknown = error;
  while (chain.length <= MAX_CAUSES && current instanceof Error && current.cause !== undefined) {
    current = current.cause;
    if (chain.includes(current)) break;
    chain.push(current);
  }
  const lines: string[] = [];
  for (let i = chain.length - 1; i >= 0; i--) {
    lines.push(...singleTraceback(chain[i]));
    if (i > 0) lines.push(CAUSE_SEPARATOR);
  }
  return lines;
}

/** Python `logging.Formatter.formatException`: the joined lines without the final newline. */
export function formatExceptionText(error: unknown): string {
  const text = formatException(error).join("");
  return text.endsWith("\n") ? text.slice(0, -1) : text;
}
