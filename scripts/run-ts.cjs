// Runs a TypeScript file in a fresh node process (or worker) the way jest runs the tests: .ts is
// compiled on require by @swc/core with the options below (jest.config.base.cjs uses the same ones),
// and @xshm/* resolve to the sibling packages' sources, so multi-process tests need no build. Where each
// one lives is written once, in the root tsconfig.json's `paths`; jest.config.base.cjs maps from it too.
//   node scripts/run-ts.cjs FILE.ts [ARGS...]      or, in a worker: require('.../run-ts.cjs').register()
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

const SWC_OPTIONS = {
  jsc: { target: 'es2022', parser: { syntax: 'typescript', explicitResourceManagement: true } },
  module: { type: 'commonjs' },
};
const ROOT = path.resolve(__dirname, '..');

/** `@xshm/*` name -> absolute path of its source entry, from the root tsconfig.json's `paths`. */
const SOURCES = Object.fromEntries(
  Object.entries(
    JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')).compilerOptions.paths,
  ).map(([name, [target]]) => [name, path.join(ROOT, target)]),
);

function register() {
  const swc = require('@swc/core');
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function resolveSibling(request, ...rest) {
    return resolveFilename.call(this, SOURCES[request] ?? request, ...rest);
  };
  Module._extensions['.ts'] = (module, filename) => {
    const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), { filename, ...SWC_OPTIONS });
    module._compile(code, filename);
  };
}

module.exports = { register, SWC_OPTIONS, SOURCES };

if (require.main === module) {
  register();
  const [file, ...args] = process.argv.slice(2);
  process.argv = [process.argv[0], path.resolve(file), ...args];
  require(path.resolve(file));
}
