/**
 * A plugin's `initialize()`, bounded by the loader's time limit.
 *
 * @internal
 * @module
 */
import { PluginLoadError, TimeoutError } from '../errors.js';
import { raceTimeout } from '../internal/async.js';
import { errorMessage } from '../internal/error-message.js';
import type { IntegrationPlugin, PluginContext } from './types.js';

/**
 * Runs `plugin.initialize(ctx)` for at most `ms`; on timeout aborts `controller` with the
 * `TimeoutError`.
 *
 * @throws {PluginLoadError} when initialize fails or does not finish in time
 */
export async function initializePlugin(
  plugin: IntegrationPlugin,
  ctx: PluginContext,
  controller: AbortController,
  ms: number,
): Promise<void> {
  if (typeof plugin.initialize !== 'function') return;
  const id = ctx.pluginId;
  const running = (async () => plugin.initialize?.(ctx))().catch((error: unknown) => {
    if (controller.signal.aborted) return; // already timed out
    throw new PluginLoadError(`initialize() failed: ${errorMessage(error)}`, id, {
      cause: error,
    });
  });
  try {
    await raceTimeout(running, ms, `Plugin '${id}' initialize()`);
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error;
    controller.abort(error);
    throw new PluginLoadError(
      `initialize() did not finish within ${ms} ms; raise initializeTimeoutMs or make initialize faster`,
      id,
      { cause: error },
    );
  }
}
