#!/usr/bin/env node
// shmtool: the commands live in the package (src/cli.ts); this only runs them with the process's
// arguments and exits with their code. Setting exitCode rather than calling exit() lets stdout drain.

require('../dist/cli.js')
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      // Commands report their own failures; this is a bug, said in one line rather than a stack trace.
      process.stderr.write(`shmtool: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
