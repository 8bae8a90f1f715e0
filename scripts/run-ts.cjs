// Runs a TypeScript file in a fresh node process (or worker) the way jest runs the tests: .ts is
// compiled on require by @swc/core with the options below (jest.config.base.cjs uses the same ones),
// and @xshm/* resolve to the sibling packages' sources, so multi-process tests need no build.
//   node scripts/run-ts.cjs FILE.ts [ARGS...]      or, in a worker: require('.../run-ts.cjs').register()
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

const SWC_OPTIONS = {
  jsc: { target: 'es2022', parser: { syntax: 'typescript', explicitResourceManagement: true } },
  module: { type: 'commonjs' },
};
const PACKAGES = path.resolve(__dirname, '../packages');
const SIBLING = /^@xshm\/(shm|mit-shm|framebus)(?:\/(format))?$/;

function register() {
  const swc = require('@swc/core');
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function resolveSibling(request, ...rest) {
    const sibling = SIBLING.exec(request);
    const target = sibling ? path.join(PACKAGES, sibling[1], `src/${sibling[2] ?? 'index'}.ts`) : request;
    return resolveFilename.call(this, target, ...rest);
  };
  Module._extensions['.ts'] = (module, filename) => {
    const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), { filename, ...SWC_OPTIONS });
    module._compile(code, filename);
  };
}

module.exports = { register, SWC_OPTIONS, PACKAGES, SIBLING };

if (require.main === module) {
  register();
  const [file, ...args] = process.argv.slice(2);
  process.argv = [process.argv[0], path.resolve(file), ...args];
  require(path.resolve(file));
}
