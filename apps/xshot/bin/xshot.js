#!/usr/bin/env node
// The xshot executable: a thin shim over the built command module (src/cli.ts).

// The code cache first, so that every module after it compiles from cached code. dist/xshot.cjs is
// src/cli.ts with xshot's own modules, @xshm/mit-shm, @xshm/shm and x11's core in one file (see
// scripts/bundle.mjs): one file to read and compile instead of ~65 (~8 ms of a 1080p `xshot shot`).
require('../dist/compile-cache.js').enableCompileCache();
const { main } = require('../dist/xshot.cjs');
main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`xshot: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
