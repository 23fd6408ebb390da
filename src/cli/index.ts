#!/usr/bin/env node
/**
 * Entry point of the `plugboard` bin (built to `dist/cli.js` with a shebang).
 *
 * @module
 * @internal
 */
import { errorField, errorMessage } from '../internal/error-message.js';
import { runCli } from './main.js';

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const stack = errorField(error, 'stack');
    process.stderr.write(`plugboard: ${typeof stack === 'string' ? stack : errorMessage(error)}\n`);
    process.exitCode = 1;
  },
);
