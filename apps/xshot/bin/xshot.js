#!/usr/bin/env node
// The xshot executable: a thin shim over the built command module (src/cli.ts).

// The code cache first, so that every module after it (cli.js included) compiles from cached code.
require('../dist/compile-cache.js').enableCompileCache();
const { main } = require('../dist/cli.js');
main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`xshot: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
