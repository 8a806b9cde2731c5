/**
 * What `promise` rejected with, checked to be a `type` (an SDK's error class): a success or any other error fails the
 * test with what happened instead.
 */
export async function rejectionOf<T>(promise: Promise<unknown>, type: abstract new (...args: never[]) => T): Promise<T> {
  const error = await promise.then(() => null, (e: unknown) => e);
  if (!(error instanceof type)) throw new Error(`expected a ${type.name}, got ${error === null ? 'a success' : String(error)}`);
  return error;
}
