/**
 * The loggers the loader and `defineIntegration` hand to plugins.
 *
 * @internal
 * @module
 */
import type { PluginLogger } from './types.js';

/** A logger that drops everything (the default). */
export const silentLogger: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** A logger writing to `log`, each line prefixed with `[key]`. */
export function prefixedLogger(key: string, log: PluginLogger): PluginLogger {
  return {
    debug: (m, d) => log.debug(`[${key}] ${m}`, d),
    info: (m, d) => log.info(`[${key}] ${m}`, d),
    warn: (m, d) => log.warn(`[${key}] ${m}`, d),
    error: (m, d) => log.error(`[${key}] ${m}`, d),
  };
}
