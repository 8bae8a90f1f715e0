// The one jest setup every package extends: swc for TypeScript (TypeScript 7 has no
// JavaScript API for ts-jest), and sibling packages read from source, so no build first.
const path = require('node:path');
const { SWC_OPTIONS } = require('./scripts/run-ts.cjs');

/** @param {string} dir the package folder (pass __dirname) */
module.exports = function jestConfig(dir, overrides = {}) {
  return {
    displayName: require(path.join(dir, 'package.json')).name,
    rootDir: dir,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/test/**/*.test.ts'],
    transform: {
      '^.+\\.(t|j)s$': [require.resolve('@swc/jest'), { ...SWC_OPTIONS, sourceMaps: 'inline' }],
    },
    moduleNameMapper: {
      '^@xshm/(shm|mit-shm|framebus)$': path.join(__dirname, 'packages/$1/src/index.ts'),
      '^@xshm/shm/cli-args$': path.join(__dirname, 'packages/shm/src/cli-args.ts'),
    },
    ...overrides,
  };
};
