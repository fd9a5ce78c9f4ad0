/**
 * Documents that are not valid UTF-8. Redis stores bytes; a task document written by a broken
 * producer may contain bytes that are not UTF-8. Decoding them with replacement characters would
 * silently change the document (and the router would write the changed text back), so the backend
 * decodes such bytes the way Python's `surrogateescape` does — byte 0xXY becomes the lone surrogate
 * U+DCXY, which valid UTF-8 can never produce — and readers refuse texts that contain lone
 * surrogates with {@link undecodableMessage}.
 */
import { isUtf8 } from "node:buffer";

/** Decodes UTF-8; every byte that is not part of a valid sequence becomes U+DC00 + byte. */
export function decodeUtf8Escaped(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return buffer.toString("utf8");
  let out = "";
  let start = 0;
  let i = 0;
  const n = buffer.length;
  while (i < n) {
    const len = sequenceLength(buffer, i);
    if (len > 0) {
      i += len;
      continue;
    }
    if (start < i) out += buffer.toString("utf8", start, i);
    out += String.fromCharCode(0xdc00 + (buffer[i] as number));
    i++;
    start = i;
  }
  if (start < n) out += buffer.toString("utf8", start, n);
  return out;
}

/** Length of the valid UTF-8 sequence at `i` (1–4), or 0 when the bytes there are not one. */
function sequenceLength(b: Buffer, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const cont = (k: number) => i + k < b.length && ((b[i + k] as number) & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1] as number;
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 >= 0xa0) return 0; // UTF-16 surrogates
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1] as number;
    if (c === 0xf0 && c1 < 0x90) return 0; // overlong
    if (c === 0xf4 && c1 >= 0x90) return 0; // above U+10FFFF
    return 4;
  }
  return 0;
}

const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Undefined when `text` is well-formed Unicode; otherwise why it cannot be read (`not valid UTF-8
 * (...)`, to follow "the document is"): the first undecodable byte (a lone surrogate U+DC80..U+DCFF from {@link decodeUtf8Escaped}) and its position.
 */
export function undecodableMessage(text: string): string | undefined {
  const match = LONE_SURROGATE.exec(text);
  if (match === null) return undefined;
  const unit = match[0].charCodeAt(0);
  const what =
    unit >= 0xdc80 && unit <= 0xdcff
      ? `undecodable byte 0x${(unit - 0xdc00).toString(16).padStart(2, "0")}`
      : `lone surrogate U+${unit.toString(16).toUpperCase()}`;
  return `not valid UTF-8 (${what} at character ${match.index})`;
}
