// Preloaded with `node --require` by the CLI tests: at exit, prints every module file the process loaded
// (one `loaded: PATH` line each on stderr), so a test can tell what a command pulled in.
process.on('exit', () => {
  for (const path of Object.keys(require.cache)) process.stderr.write(`loaded: ${path}\n`);
});
