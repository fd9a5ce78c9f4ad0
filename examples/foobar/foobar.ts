/**
 * The seed documentation's first consumer (chapter 2.4), as a karton-ts service: for every
 * `{type: "foobar"}` task it logs "Foo" when the number in payload `data` is a multiple of 3 and
 * "Bar" for a multiple of 5, and sends the words on as a `{type: "foobar-result"}` task.
 * Walkthrough: docs/first-karton.md.
 *
 *   node dist/examples/foobar/foobar.js --config-file karton.ini
 */
import { Karton, Task } from "../../src/index.js"; // in your project: from "karton-ts"
import { isMainModule } from "../triage/is-main.js";

export class FooBar extends Karton {
  static override identity = "karton.foobar";
  static override description = "Says Foo to multiples of 3 and Bar to multiples of 5.";
  static override filters = [{ type: "foobar" }];

  async process(task: Task): Promise<void> {
    const n = task.getPayload("data");
    if (typeof n !== "number")
      throw new TypeError(`payload "data" must be a number, got ${JSON.stringify(n)}`);
    const words = [n % 3 === 0 ? "Foo" : null, n % 5 === 0 ? "Bar" : null].filter((w) => w !== null);
    for (const word of words) this.log.info(word);
    if (words.length > 0) {
      await this.sendTask(new Task({ type: "foobar-result" }, { payload: { data: n, words } }));
    }
  }
}

if (isMainModule(import.meta.url)) await FooBar.main();
