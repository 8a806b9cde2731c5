// A tool result's outcome in the gateway's chat shape is one flag on the tool message, `is_error` (true: the tool
// failed; false: it succeeded; absent: not said), written by the /anthropic route from `is_error` and by the /bedrock
// route from `status`. Each adapter renders it as its API can: Anthropic's `is_error`, Bedrock's `status`, Gemini's
// `error` key; APIs with no way to say it get the failure in the text, as a person would tell it.

/** The tool message's flag: true, false, or undefined when absent; anything else is refused. */
export function toolFailed(message: { is_error?: unknown }, where: string): boolean | undefined {
  const flag = message.is_error;
  if (flag === undefined || flag === null) return undefined;
  if (typeof flag !== 'boolean') throw new Error(`${where}.is_error must be true or false`);
  return flag;
}

/** A failed tool's result for an API with no flag for it: text that starts `Error: `. */
export function markedFailed(content: unknown): unknown {
  if (typeof content === 'string') return `Error: ${content}`;
  if (Array.isArray(content)) return [{ type: 'text', text: 'Error:' }, ...content];
  return content;
}
