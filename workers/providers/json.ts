// JSON as upstreams send it, read defensively. An upstream that answers `null`, an array or a number where an
// object belongs gets a clean "not a JSON object" error, not a TypeError from deep inside an adapter, which the
// client would read as "Cannot read properties of null".

export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `text` parsed as a JSON object; otherwise a SyntaxError (what JSON.parse throws too) naming `what`. */
export function parseObject<T extends object = Json>(text: string, what: string): T {
  const parsed: unknown = JSON.parse(text);
  if (!isObject(parsed)) throw new SyntaxError(`${what} is not a JSON object`);
  return parsed as T;
}

/** The objects of a list an upstream sent; anything else in it (null, a number) is skipped, as is a list that is not one. */
export const objectsIn = <T extends object = Json>(value: unknown): T[] => (Array.isArray(value) ? value.filter(isObject) as T[] : []);
