/**
 * The seed documentation's first producer (chapter 2.4): five `{type: "foobar"}` tasks.
 *
 *   node dist/examples/foobar/producer.js            (reads ./karton.ini, KARTON_* variables)
 */
import { Producer, Task } from "../../src/index.js"; // in your project: from "karton-ts"

const producer = new Producer({ identity: "foobar-producer" });
for (let i = 0; i < 5; i++) {
  await producer.sendTask(new Task({ type: "foobar" }, { payload: { data: i } }));
}
await producer.close();
