// Preloaded (`node --import`) into a server started by a test: appends the
// URL of every module of node_modules/@opentelemetry the process loads to the
// file named by RECORD_LOADS_FILE.
import { appendFileSync } from "node:fs";
import * as nodeModule from "node:module";

const file = process.env["RECORD_LOADS_FILE"];
if (file && typeof nodeModule.registerHooks === "function") {
  nodeModule.registerHooks({
    load(url, context, nextLoad) {
      if (url.includes("/node_modules/@opentelemetry/")) appendFileSync(file, `${url}\n`);
      return nextLoad(url, context);
    },
  });
} else if (file) {
  // Node 20: hooks on the loader's thread.
  nodeModule.register("./record-loads-hooks.mjs", import.meta.url, { data: { file } });
}
