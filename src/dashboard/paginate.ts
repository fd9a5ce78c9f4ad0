/** Pagination and search of task lists. */
import type { Task } from "../task/task.js";
import { headerText } from "./format.js";

export interface Page<T> {
  items: T[];
  /** 1-based page number (clamped to the last page). */
  page: number;
  pages: number;
  total: number;
  /** Index of the first item shown, and one past the last. */
  from: number;
  to: number;
}

/** A page number from a query parameter (1 when missing or invalid). */
export function parsePage(value: string | undefined): number {
  if (value === undefined || !/^\d{1,9}$/.test(value)) return 1;
  return Math.max(1, Number(value));
}

export function paginate<T>(items: readonly T[], page: number, size: number): Page<T> {
  const pages = Math.max(1, Math.ceil(items.length / size));
  const current = Math.min(Math.max(1, page), pages);
  const from = Math.min(items.length, (current - 1) * size);
  const to = Math.min(items.length, from + size);
  return { items: items.slice(from, to), page: current, pages, total: items.length, from, to };
}

/**
 * Does a task match a search? The query is split on whitespace and every word must match:
 * `key:value` or `key=value` matches when header `key` contains `value`; any other word matches a
 * part of the uid, the root uid, or of a `key:value` header text. Case-insensitive.
 */
export function taskMatches(task: Task, query: string): boolean {
  const words = query
    .trim()
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== "");
  if (words.length === 0) return true;
  const headers = Object.entries(task.headers).map(
    ([k, v]) => [k.toLowerCase(), headerText(v).toLowerCase()] as const,
  );
  return words.every((word) => {
    const pair = /^([^:=]+)[:=](.*)$/.exec(word);
    if (pair) {
      const [, key, value] = pair as unknown as [string, string, string];
      if (headers.some(([k, v]) => k === key && v.includes(value))) return true;
    }
    return (
      task.uid.toLowerCase().includes(word) ||
      task.rootUid.toLowerCase().includes(word) ||
      headers.some(([k, v]) => `${k}:${v}`.includes(word))
    );
  });
}

/** Filters by a search query, then cuts one page. */
export function searchAndPaginate(
  tasks: readonly Task[],
  query: string,
  page: number,
  size: number,
): Page<Task> {
  const filtered = query.trim() === "" ? tasks : tasks.filter((t) => taskMatches(t, query));
  return paginate(filtered, page, size);
}
