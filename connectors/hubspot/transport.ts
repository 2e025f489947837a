import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent as HttpAgent, type AgentOptions, type ClientRequest } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/**
 * The SDK's generated clients pass node-fetch no AbortSignal (only method, body, headers and
 * agent), so a call that timed out would leave its request on the socket until the CRM answers,
 * if ever. The call's signal travels with the async context instead, and the agent, which sees
 * every request, destroys the request and its socket when the signal aborts.
 */
const callSignal = new AsyncLocalStorage<AbortSignal>();

/** Runs `fn` so that every SDK request it makes is aborted with `signal`. */
export function abortableBy<T>(signal: AbortSignal, fn: () => T): T {
  return callSignal.run(signal, fn);
}

/** A keep-alive agent whose requests end with the signal of the call that made them. */
export function abortingAgent(https: boolean, options: AgentOptions): HttpAgent {
  const agent = https ? new HttpsAgent(options) : new HttpAgent(options);
  // addRequest is how http.request hands every request to its agent (not in Node's typings).
  const internal = agent as unknown as { addRequest(req: ClientRequest, opts: unknown): void };
  const addRequest = internal.addRequest.bind(agent);
  internal.addRequest = (req, opts) => {
    addRequest(req, opts);
    const signal = callSignal.getStore();
    if (!signal) return;
    const abort = () => req.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    req.once('close', () => signal.removeEventListener('abort', abort));
  };
  return agent;
}
