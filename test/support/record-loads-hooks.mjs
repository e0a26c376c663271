// Module hooks of record-loads.mjs (they run on the loader's thread).
import { appendFileSync } from "node:fs";

let file;

export function initialize(data) {
  file = data.file;
}

export async function load(url, context, nextLoad) {
  if (url.includes("/node_modules/@opentelemetry/")) {
    appendFileSync(file, `${url}\n`);
  }
  return nextLoad(url, context);
}
