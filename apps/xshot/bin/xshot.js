#!/usr/bin/env node
// The xshot executable: a thin shim over the built command module (src/cli.ts). dist/xshot.cjs is
// src/cli.ts with xshot's own modules, @xshm/mit-shm, @xshm/shm and x11's core in one file (see
// scripts/bundle.mjs), loaded from a V8 code cache (see src/compile-cache.ts).
const { join } = require('node:path');
const { loadCached } = require('../dist/compile-cache.js');
const { main } = loadCached(join(__dirname, '..', 'dist', 'xshot.cjs'));
main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    // Commands report their own failures; this is a bug, said in one line rather than a stack trace.
    process.stderr.write(`xshot: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
