// The plumbing every fake upstream server shares (openai-, anthropic-, azure-, cohere-, bedrock- and
// gemini-server.ts): a node:http server on 127.0.0.1 and a port of its own, the requests it recorded, the scenarios
// scripted per model (or deployment), waiting for requests to arrive, and a close() that does not wait for open
// connections; plus the helpers their answers have in common (reading the body, choosing the scenario, sending JSON,
// Retry-After, opening and breaking off a stream). What a fake answers, and in which wire format, stays its own.

import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What every recorded request has. */
export interface RecordedExchange {
  readonly headers: IncomingHttpHeaders;
}

/** What every scenario has: an error to answer with. */
export interface ScenarioWithError {
  error?: { status: number; message?: string };
}

/** A recorded request as the send helpers note it: the status answered and the text sent. */
export interface AnsweredExchange {
  status: number;
  responseBody: string | null;
}

/** What a fake hands out, over the requests it records (R) and its scenarios (S). */
export interface FakeServerApi<R, S> {
  readonly url: string;
  readonly requests: R[];
  /**
   * Registers the scenario of every request for `key`: the model (Azure: the deployment) the fake receives. A list
   * is played in order, one scenario per request, its last one repeating (a 500, then a success).
   */
  script(key: string, scenario: S | readonly S[]): void;
  /** Requests that carry this x-request-id (the gateway sends its request id upstream). */
  requestsWithId(requestId: string): R[];
  /** Forgets the recorded requests and the scripts. */
  reset(): void;
  close(): Promise<void>;
}

/** A fake that also tells its port and can be waited on. */
export interface WaitableFakeServerApi<R, S> extends FakeServerApi<R, S> {
  readonly port: number;
  /** Resolves once `count` requests have arrived (the n-th is returned), or rejects after `timeoutMs`. */
  waitForRequests(count: number, timeoutMs?: number): Promise<R>;
}

/**
 * A fake's server. `onRequest` gets each request once its body has been read whole (as UTF-8 text). The members a
 * fake hands out as its own API (`url`, `port`, `requests`, `script`, `requestsWithId`, `waitForRequests`, `reset`,
 * `close`) are bound, so they can be picked off the instance.
 */
export class FakeServer<R extends RecordedExchange, S extends object> implements WaitableFakeServerApi<R, S> {
  readonly requests: R[] = [];
  readonly server: Server;
  url = '';
  port = 0;
  private readonly scripts = new Map<string, S[]>();
  private readonly sockets = new Set<Socket>();
  private readonly waiters: { count: number; resolve: (request: R) => void }[] = [];
  private seq = 0;

  /** A fake server listening on 127.0.0.1, on a port of its own. */
  static async start<R extends RecordedExchange, S extends object>(
    onRequest: (req: IncomingMessage, res: ServerResponse, rawBody: string, rawBytes: Buffer) => void,
  ): Promise<FakeServer<R, S>> {
    const fake = new FakeServer<R, S>(onRequest);
    fake.server.listen(0, '127.0.0.1');
    await once(fake.server, 'listening');
    fake.port = (fake.server.address() as AddressInfo).port;
    fake.url = `http://127.0.0.1:${fake.port}`;
    return fake;
  }

  private constructor(onRequest: (req: IncomingMessage, res: ServerResponse, rawBody: string, rawBytes: Buffer) => void) {
    this.server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (part: Buffer) => parts.push(part));
      req.on('end', () => {
        const bytes = Buffer.concat(parts);
        onRequest(req, res, bytes.toString('utf8'), bytes);
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** The sequence number of the next request: 1, 2, … */
  nextSeq(): number {
    return ++this.seq;
  }

  /** Records a request, and hands it to whoever waits for this many requests. */
  record(request: R): R {
    this.requests.push(request);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.requests.length >= this.waiters[i].count) {
        this.waiters[i].resolve(this.requests[this.waiters[i].count - 1]);
        this.waiters.splice(i, 1);
      }
    }
    return request;
  }

  /**
   * The scenario of a request, first match wins: the `x-fake-scenario` header holding a scenario as JSON, the one
   * scripted for `key`, `fromKey(key)` (no key: none); each over `defaults`. Throws when the header is not JSON.
   */
  pickScenario(headers: IncomingHttpHeaders, key: string | null, fromKey: (key: string) => S, defaults: Partial<S> = {}): S {
    const header = headers['x-fake-scenario'];
    if (typeof header === 'string') return { ...defaults, ...(JSON.parse(header) as S) };
    return { ...defaults, ...(key === null ? {} : this.scripted(key) ?? fromKey(key)) } as S;
  }

  /** The next scenario scripted for `key`: a list is consumed one per request, its last one kept. */
  private scripted(key: string): S | undefined {
    const list = this.scripts.get(key);
    if (!list) return undefined;
    return list.length > 1 ? list.shift() : list[0];
  }

  /** Registers the scenario of every request for `key` (a model, a deployment: what the fake's requests name). */
  readonly script = (key: string, scenario: S | readonly S[]): void => {
    this.scripts.set(key, Array.isArray(scenario) ? [...(scenario as readonly S[])] : [scenario as S]);
  };

  /** Requests that carry this x-request-id. */
  readonly requestsWithId = (requestId: string): R[] => this.requests.filter((r) => r.headers['x-request-id'] === requestId);

  /** Resolves once `count` requests have arrived (the n-th is returned), or rejects after `timeoutMs`. */
  readonly waitForRequests = (count: number, timeoutMs = 5_000): Promise<R> => {
    const { requests, waiters } = this;
    if (requests.length >= count) return Promise.resolve(requests[count - 1]);
    return new Promise<R>((resolve, reject) => {
      const waiter = {
        count,
        resolve: (r: R) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`the fake got ${requests.length} requests, not ${count}, within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(waiter);
    });
  };

  /** Forgets the recorded requests and the scripts. */
  readonly reset = (): void => {
    this.requests.length = 0;
    this.scripts.clear();
  };

  /**
   * Destroys the open connections and stops listening. A server closed already makes it reject, unless
   * `whenClosed` is 'resolve'.
   */
  readonly close = (whenClosed: 'reject' | 'resolve' = 'reject'): Promise<void> => {
    for (const socket of this.sockets) socket.destroy();
    if (whenClosed === 'resolve') {
      this.server.close();
      return once(this.server, 'close').then(() => undefined);
    }
    return new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  };
}

/** `choose()`, or when it throws (the `x-fake-scenario` header is not JSON) a scenario that answers 400. */
export function scenarioOrBadHeader<S extends ScenarioWithError>(choose: () => S): S {
  try {
    return choose();
  } catch {
    const invalid: ScenarioWithError = { error: { status: 400, message: 'x-fake-scenario is not valid JSON' } };
    return invalid as S;
  }
}

/** The body parsed as JSON; undefined when it is empty or not JSON. */
export function parseJson<T>(rawBody: string): T | undefined {
  try {
    return rawBody ? (JSON.parse(rawBody) as T) : undefined;
  } catch {
    return undefined;
  }
}

/** The body's `model` when it is a string, else ''. */
export const modelOf = (body: { model?: unknown } | undefined): string => (typeof body?.model === 'string' ? body.model : '');

/** A promise of the response's close, either way; `onClose` runs first. */
export function whenClosed(res: ServerResponse, onClose: () => void = () => {}): Promise<void> {
  return new Promise<void>((resolve) => {
    res.on('close', () => {
      onClose();
      resolve();
    });
  });
}

/** Answers with `status`, `headers` and `text`, noting the status and the text on the record (when there is one). */
export function respond(res: ServerResponse, record: AnsweredExchange | null, status: number, text: string,
  headers: Record<string, string | number>): string {
  if (record) {
    record.status = status;
    record.responseBody = text;
  }
  res.writeHead(status, headers);
  res.end(text);
  return text;
}

/**
 * respond() with `body` as JSON (`serialize`d), content-type application/json and its content-length; `headers`
 * add to those or replace them. Returns the text sent.
 */
export function sendJson(res: ServerResponse, record: AnsweredExchange | null, status: number, body: unknown,
  headers: Record<string, string> = {}, serialize: (value: unknown) => string = JSON.stringify): string {
  const text = serialize(body);
  return respond(res, record, status, text, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
}

/** The Retry-After to send: the one given (null: none), else '1' for the statuses in `byDefault`. */
export function retryAfterFor(status: number, given: string | null | undefined, byDefault: number[]): string | null {
  return given === undefined ? (byDefault.includes(status) ? '1' : null) : given;
}

/** Starts a 200 stream: notes the status, sends the headers right away. */
export function openStream(res: ServerResponse, record: AnsweredExchange, headers: Record<string, string>): void {
  record.status = 200;
  res.writeHead(200, headers);
  res.flushHeaders();
}

/** Breaks a stream off on purpose: once `flushed`, and a moment for the reader to take the bytes, destroys the socket. */
export async function breakOff(res: ServerResponse, record: { brokenOff: boolean }, flushed: Promise<void>): Promise<void> {
  await flushed;
  await new Promise((resolve) => setTimeout(resolve, 20));
  record.brokenOff = true;
  res.socket?.destroy();
}

/** A rough token count: four characters a token, at least one. */
export const tokensOf = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

/** A deterministic toy embedding of a text, from its characters. */
export const charVector = (text: string, dimensions: number): number[] =>
  Array.from({ length: dimensions }, (_, d) => ((text.charCodeAt(d % Math.max(1, text.length)) || 0) % 97) / 97);

/** OpenAI's embeddings `data` (also Azure's): a vector per input, base64 float32 when `encoding_format` asks. */
export function openaiEmbeddings(body: Record<string, unknown>): { inputs: unknown[]; data: object[] } {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const data = inputs.map((input, index) => {
    const vector = charVector(typeof input === 'string' ? input : JSON.stringify(input), 8);
    // As OpenAI does: `encoding_format: "base64"` (the SDK's default) is little-endian float32 bytes in base64.
    const embedding = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding };
  });
  return { inputs, data };
}
