// Builds the callers' package from the repository it lives in: compiles the
// client entries (and the generated code and pass verifier they import) into
// dist/, and copies the contract into proto/ as .proto files plus one binary
// FileDescriptorSet for tools whose protoc is too old for proto3 `optional`.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const protos = ["boxoffice/v1", "google/rpc/error_details.proto", "google/rpc/status.proto", "buf/validate/validate.proto"];

rmSync(join(here, "dist"), { recursive: true, force: true });
rmSync(join(here, "proto"), { recursive: true, force: true });
execFileSync(bin("tsc"), ["-p", join(here, "tsconfig.json")], { stdio: "inherit" });
for (const path of protos) {
  cpSync(join(root, "proto", path), join(here, "proto", path), { recursive: true });
}
mkdirSync(join(here, "proto"), { recursive: true });
execFileSync(
  bin("buf"),
  ["build", "--output", join(here, "proto", "boxoffice.binpb"), ...["boxoffice", "google/rpc"].flatMap((p) => ["--path", join("proto", p)])],
  { cwd: root, stdio: "inherit" },
);
