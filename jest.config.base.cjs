// The one jest setup every package extends: swc for TypeScript (TypeScript 7 has no
// JavaScript API for ts-jest), and sibling packages read from source, so no build first.
const path = require('node:path');
const { SWC_OPTIONS, SOURCES } = require('./scripts/run-ts.cjs');

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
    // the root tsconfig.json's `paths`, the one list of where each package's sources are
    moduleNameMapper: Object.fromEntries(
      Object.entries(SOURCES).map(([name, source]) => [
        `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
        source,
      ]),
    ),
    ...overrides,
  };
};
