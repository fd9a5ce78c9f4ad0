/**
 * A small, safe Markdown renderer for bind descriptions (`info`, usually a Python class docstring).
 *
 * Supported: paragraphs, `#` headings (shown one level smaller), bullet and numbered lists, fenced
 * (```) and indented code blocks, inline code, **strong**, *emphasis*, [links](https://…) and bare
 * http(s) URLs. Everything else is text. All text is HTML-escaped; links are limited to http, https
 * and mailto URLs and open with `rel="noopener noreferrer nofollow"`. No raw HTML passes through.
 */
import { escapeHtml, SafeHtml } from "./html.js";

/** Removes the common leading whitespace of all non-blank lines (Python `textwrap.dedent`), and blank edges. */
export function dedent(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let common: string | undefined;
  for (const line of lines) {
    if (line.trim() === "") continue;
    const indent = /^[ \t]*/.exec(line)?.[0] ?? "";
    if (common === undefined) common = indent;
    else {
      let i = 0;
      while (i < common.length && i < indent.length && common[i] === indent[i]) i++;
      common = common.slice(0, i);
    }
  }
  const cut = common?.length ?? 0;
  const out = lines.map((line) => (line.trim() === "" ? "" : line.slice(cut)));
  while (out.length > 0 && out[0] === "") out.shift();
  while (out.length > 0 && out[out.length - 1] === "") out.pop();
  return out.join("\n");
}

const SAFE_URL = /^(?:https?:\/\/|mailto:)[^\s"'<>`]+$/i;

function link(url: string, text: string): string {
  return `<a href="${escapeHtml(url)}" rel="noopener noreferrer nofollow">${text}</a>`;
}

// code span | [text](url) | bare URL | **strong** | *emphasis*
const INLINE =
  /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\[([^\]\n]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()"'`]+[^\s<>()"'`.,;:!?])|\*\*(?=\S)([\s\S]+?)\*\*|\*(?=[^\s*])([^*\n]+?)\*/g;

/** Renders inline markup of one block of text. */
export function renderInline(text: string, depth = 0): string {
  if (depth > 3) return escapeHtml(text);
  let out = "";
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    const index = m.index ?? 0;
    out += escapeHtml(text.slice(last, index));
    last = index + m[0].length;
    if (m[1] !== undefined) {
      const code = m[2] ?? "";
      const strip = code.length > 2 && code.startsWith(" ") && code.endsWith(" ") && code.trim() !== "";
      out += `<code>${escapeHtml(strip ? code.slice(1, -1) : code)}</code>`;
    } else if (m[3] !== undefined) {
      const url = m[4] ?? "";
      const label = renderInline(m[3], depth + 1);
      out += SAFE_URL.test(url) ? link(url, label) : `${label} (${escapeHtml(url)})`;
    } else if (m[5] !== undefined) {
      out += link(m[5], escapeHtml(m[5]));
    } else if (m[6] !== undefined) {
      out += `<strong>${renderInline(m[6], depth + 1)}</strong>`;
    } else if (m[7] !== undefined) {
      out += `<em>${renderInline(m[7], depth + 1)}</em>`;
    }
  }
  return out + escapeHtml(text.slice(last));
}

const BULLET = /^[ ]{0,3}[-*+][ \t]+(.*)$/;
const NUMBERED = /^[ ]{0,3}\d{1,9}[.)][ \t]+(.*)$/;
const HEADING = /^[ ]{0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$/;
const FENCE = /^[ ]{0,3}(```+|~~~+)/;

/** Renders Markdown text (already dedented or not) to HTML. */
export function renderMarkdown(source: string): SafeHtml {
  const lines = dedent(source).split("\n");
  const blocks: string[] = [];
  let i = 0;
  const isBlank = (line: string | undefined) => line === undefined || line.trim() === "";
  while (i < lines.length) {
    const line = lines[i] as string;
    if (isBlank(line)) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1] as string;
      const body: string[] = [];
      i++;
      while (i < lines.length && !(lines[i] as string).trimStart().startsWith(marker))
        body.push(lines[i++] as string);
      i++; // closing fence (or end of text)
      blocks.push(`<pre><code>${escapeHtml(body.join("\n"))}</code></pre>`);
      continue;
    }
    if (/^( {4}|\t)/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i] as string) || isBlank(lines[i]))) {
        body.push((lines[i] as string).replace(/^( {4}|\t)/, ""));
        i++;
      }
      while (body.length > 0 && (body[body.length - 1] as string).trim() === "") body.pop();
      blocks.push(`<pre><code>${escapeHtml(body.join("\n"))}</code></pre>`);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = Math.min(6, (heading[1] as string).length + 2);
      blocks.push(`<h${level}>${renderInline(heading[2] as string)}</h${level}>`);
      i++;
      continue;
    }
    const listKind = BULLET.test(line) ? "ul" : NUMBERED.test(line) ? "ol" : undefined;
    if (listKind) {
      const pattern = listKind === "ul" ? BULLET : NUMBERED;
      const items: string[] = [];
      while (i < lines.length) {
        const current = lines[i] as string;
        const item = pattern.exec(current);
        if (item) {
          items.push(item[1] as string);
        } else if (!isBlank(current) && /^\s+\S/.test(current) && items.length > 0) {
          items[items.length - 1] += ` ${current.trim()}`; // continuation line
        } else break;
        i++;
      }
      blocks.push(
        `<${listKind}>${items.map((item) => `<li>${renderInline(item)}</li>`).join("")}</${listKind}>`,
      );
      continue;
    }
    const para: string[] = [];
    while (
      i < lines.length &&
      !isBlank(lines[i]) &&
      !FENCE.test(lines[i] as string) &&
      !HEADING.test(lines[i] as string) &&
      !(para.length > 0 && (BULLET.test(lines[i] as string) || NUMBERED.test(lines[i] as string)))
    ) {
      para.push((lines[i] as string).trim());
      i++;
    }
    blocks.push(`<p>${renderInline(para.join("\n"))}</p>`);
  }
  return new SafeHtml(blocks.join("\n"));
}
