/**
 * `karton analysis <root_uid> [--json]`: one analysis as a tree (fork under the task it was forked
 * from, child under the task that sent it), each task with its consumer, status and headers.
 * A full task uid is accepted too: its `root_uid` is used.
 */
import { type AnalysisNode, type AnalysisTree, loadAnalysis, walkAnalysis } from "../../inspect/analysis.js";
import { findTask } from "../../inspect/find.js";
import { isCrashed, isPending, receiverOf } from "../../inspect/tasks.js";
import type { CliContext } from "../context.js";
import { CliError, EXIT_FAILED, EXIT_OK, type ExitCode } from "../errors.js";
import { headersSummary } from "../format.js";
import type { Registrar } from "../program.js";

export interface AnalysisOptions {
  json?: boolean;
}

export const registerAnalysis: Registrar = (program, act) => {
  program
    .command("analysis")
    .description("Show the task tree of an analysis")
    .argument("<root_uid>", "root uid of the analysis (or the uid of any of its tasks)")
    .option("--json", "JSON output (nested nodes)")
    .action(act((ctx, rootUid: string, options: AnalysisOptions) => runAnalysis(ctx, rootUid, options)));
};

function nodeJson(node: AnalysisNode): Record<string, unknown> {
  const task = node.task;
  return {
    uid: task.uid,
    link: node.link,
    receiver: receiverOf(task),
    status: task.status,
    priority: task.priority,
    last_update: task.lastUpdate,
    parent_uid: task.parentUid,
    orig_uid: task.origUid,
    headers: task.headers,
    children: node.children.map(nodeJson),
  };
}

/** The tree as text lines (box-drawing indentation by parent). */
export function renderTree(tree: AnalysisTree): string[] {
  const lines: string[] = [];
  for (const { node, depth, last } of walkAnalysis(tree)) {
    let prefix = "";
    for (let level = 1; level < depth; level++) prefix += last[level] ? "   " : "│  ";
    if (depth > 0) prefix += last[depth] ? "└─ " : "├─ ";
    const task = node.task;
    const who = receiverOf(task) ?? "(unrouted)";
    const note = node.link === "orphan" ? "  [parent not found]" : "";
    const headers = headersSummary(task.headers, ["receiver"]);
    lines.push(`${prefix}${task.uid}  ${who}  ${task.status}${headers ? `  ${headers}` : ""}${note}`);
  }
  return lines;
}

export async function runAnalysis(
  ctx: CliContext,
  rootUid: string,
  options: AnalysisOptions,
): Promise<ExitCode> {
  return await ctx.withBackend(async (backend) => {
    let root = rootUid.trim();
    if (root.includes(":") || root.startsWith("{")) {
      const found = await findTask(backend, root);
      if (found?.task) root = found.task.rootUid;
      else root = root.replace(/^karton\.task:/, "").replace(/^\{([^}]*)\}.*$/, "$1");
    }
    const tree = await loadAnalysis(backend, root);
    if (tree.tasks.length === 0 && tree.unparsable.length === 0) {
      throw new CliError(EXIT_FAILED, `analysis ${root} not found`);
    }
    if (options.json) {
      ctx.json({
        root_uid: tree.rootUid,
        tasks: tree.roots.map(nodeJson),
        unparsable: tree.unparsable.map((u) => ({ uid: u.uid, reason: u.reason })),
      });
      return EXIT_OK;
    }
    const pending = tree.tasks.filter(isPending).length;
    const crashed = tree.tasks.filter(isCrashed).length;
    const finished = tree.tasks.length - pending - crashed;
    ctx.out(
      `Analysis ${tree.rootUid}: ${tree.tasks.length} task${tree.tasks.length === 1 ? "" : "s"} ` +
        `(${pending} pending, ${crashed} crashed, ${finished} finished)`,
    );
    for (const line of renderTree(tree)) ctx.out(line);
    if (tree.unparsable.length > 0) {
      ctx.out("Unreadable documents:");
      for (const u of tree.unparsable) ctx.out(`  ${u.uid}: ${u.reason}`);
    }
    return EXIT_OK;
  });
}
