module.exports = require('../../jest.config.base.cjs')(__dirname, {
  globalSetup: '<rootDir>/test/global-setup.cjs',
  globalTeardown: '<rootDir>/test/global-teardown.cjs',
});
