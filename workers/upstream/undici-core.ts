// The two undici classes a worker needs to reach an upstream directly. undici's index loads everything it offers
// (fetch, WebSocket, caches, mock agents, proxy agents) and costs each worker thread about 3 MiB more than these two
// (bench/memory-idle.ts); the proxy agents are loaded from the index only by a provider that has a proxy.

import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

export const UndiciClient = require('undici/lib/dispatcher/client.js') as typeof Undici.Client;
export const UndiciDispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;

/** The whole of undici, for what the two classes above do not cover. */
export const loadUndici = (): typeof Undici => require('undici') as typeof Undici;
