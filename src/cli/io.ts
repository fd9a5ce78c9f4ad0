/**
 * Terminal input and output of the `karton` command: injectable streams (tests run the CLI
 * in-process), line and secret prompts, colours.
 */
import { CliError, EXIT_FAILED } from "./errors.js";

/** An output stream (process.stdout or a test sink). */
export interface CliOutput {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** An input stream (process.stdin or a test source). */
export interface CliInput {
  on(event: "data", listener: (chunk: Buffer | string) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  off(event: "data", listener: (chunk: Buffer | string) => void): unknown;
  off(event: "end" | "close", listener: () => void): unknown;
  pause?(): unknown;
  resume?(): unknown;
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/**
 * Reads lines from an input stream, one prompt at a time. Listens only while a read is pending
 * (so an idle CLI does not hold the process open). On a TTY, `secret` reads switch the terminal to
 * raw mode: nothing is echoed.
 */
export class LineReader {
  readonly #input: CliInput;
  #buffer = "";
  #ended = false;
  #wake: (() => void) | null = null;
  #listening = false;

  constructor(input: CliInput) {
    this.#input = input;
  }

  readonly #onData = (chunk: Buffer | string): void => {
    this.#buffer += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    this.#wake?.();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#wake?.();
  };

  #listen(on: boolean): void {
    if (on === this.#listening) return;
    this.#listening = on;
    if (on) {
      this.#input.on("data", this.#onData);
      this.#input.on("end", this.#onEnd);
      this.#input.on("close", this.#onEnd);
      this.#input.resume?.();
    } else {
      this.#input.off("data", this.#onData);
      this.#input.off("end", this.#onEnd);
      this.#input.off("close", this.#onEnd);
      this.#input.pause?.();
    }
  }

  /** The next line without its line ending, or null at end of input. */
  async readLine(options: { secret?: boolean } = {}): Promise<string | null> {
    const raw =
      options.secret === true && this.#input.isTTY === true && typeof this.#input.setRawMode === "function";
    if (raw) this.#input.setRawMode?.(true);
    this.#listen(true);
    try {
      for (;;) {
        const line = raw ? this.#takeRawLine() : this.#takeLine();
        if (line !== undefined) return line;
        if (this.#ended) {
          const rest = this.#buffer;
          this.#buffer = "";
          return rest === "" ? null : rest;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = null;
      }
    } finally {
      this.#listen(false);
      if (raw) this.#input.setRawMode?.(false);
    }
  }

  #takeLine(): string | undefined {
    const end = this.#buffer.indexOf("\n");
    if (end < 0) return undefined;
    const line = this.#buffer.slice(0, end).replace(/\r$/, "");
    this.#buffer = this.#buffer.slice(end + 1);
    return line;
  }

  /** Raw terminal input: Enter ends the line, Backspace edits, Ctrl-C aborts, Ctrl-D on empty = EOF. */
  #takeRawLine(): string | null | undefined {
    let line = "";
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer[i] as string;
      if (c === "\r" || c === "\n") {
        this.#buffer = this.#buffer.slice(i + 1).replace(/^\n/, "");
        return line;
      }
      if (c === "\u0003") {
        this.#buffer = "";
        throw new CliError(EXIT_FAILED, "Aborted.");
      }
      if (c === "\u0004" && line === "") {
        this.#buffer = this.#buffer.slice(i + 1);
        return null;
      }
      if (c === "\u007f" || c === "\b") line = [...line].slice(0, -1).join("");
      else if (c >= " ") line += c;
    }
    return undefined;
  }
}

/** ANSI colours of log levels. */
const LEVEL_COLOURS: Record<string, string> = {
  DEBUG: "\u001b[2m",
  WARNING: "\u001b[33m",
  ERROR: "\u001b[31m",
  CRITICAL: "\u001b[1;31m",
};
const RESET = "\u001b[0m";

/** Colours only on a terminal, never with a non-empty NO_COLOR, never with TERM=dumb. */
export function colourEnabled(stream: CliOutput, env: NodeJS.ProcessEnv): boolean {
  if (stream.isTTY !== true) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return env.TERM !== "dumb";
}

/** The line coloured for its level (unchanged for INFO and unknown levels). */
export function colourByLevel(line: string, levelname: string): string {
  const colour = LEVEL_COLOURS[levelname.toUpperCase()];
  return colour === undefined ? line : `${colour}${line}${RESET}`;
}
