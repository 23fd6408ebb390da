/**
 * What the tests of the queue conformance suite share: waiting for a condition, gates
 * that hold handlers, and reading error codes. Not part of the public API.
 *
 * @internal
 * @module
 */
import { errorField } from '../../internal/error-message.js';

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `cond()` holds; rejects with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A promise that handlers wait on until `open()` is called. */
export interface Gate {
  readonly wait: Promise<void>;
  open(): void;
}

/** A closed {@link Gate}. */
export function gate(): Gate {
  let open = (): void => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** The `code` of what `fn` threw or rejected with, or `none`. */
export async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'none';
  } catch (e) {
    return String(errorField(e, 'code') ?? 'no code');
  }
}

/** A unique prefix for the job ids of one test. */
export function idPrefix(): string {
  return `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
}
