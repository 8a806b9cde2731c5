// How readme.test.ts reads the documents: the directives before a block, the rules a block must keep, outputs with
// `…`, anchors. A mistake here would let a broken example pass unseen, so each rule is held on a small document.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorsOf, envReferences, headingAnchor, lastStatus, localLinks, outputMatches, readBlocks, ruleBroken } from './readme-blocks.js';

function doc(text: string): { root: string; name: string } {
  const root = mkdtempSync(join(tmpdir(), 'readme-blocks-'));
  writeFileSync(join(root, 'DOC.md'), text);
  return { root, name: 'DOC.md' };
}

describe('readBlocks', () => {
  it('reads each block with its language, line and the directives right before it', () => {
    const { root, name } = doc([
      '# Title', '', '<!-- gateway: a.yaml -->', '<!-- expect-status: 200 404 -->', '', '```sh', 'curl x', '```',
      '<!-- output -->', '```text', 'Echo: …', '```', 'prose resets', '<!-- not-run: needs a key -->', 'more prose',
      '```json', '{}', '```',
    ].join('\n'));
    const [shell, output, config] = readBlocks(root, name);
    expect(shell).toMatchObject({ line: 6, lang: 'sh', kind: 'shell', code: 'curl x\n',
      directives: { gateway: 'a.yaml', expectStatus: [200, 404] }, problems: [] });
    expect(output).toMatchObject({ kind: 'text', directives: { output: true } });
    expect(config).toMatchObject({ kind: 'config', directives: {} });
  });

  it('flags what cannot be checked: no reason, unknown directive or language, an unmarked text block', () => {
    const { root, name } = doc(['<!-- not-run: -->', '```sh', 'x', '```', '<!-- prnts: x -->', '```ts', 'x', '```',
      '```ruby', 'x', '```', '```', 'plain', '```'].join('\n'));
    const problems = readBlocks(root, name).map(ruleBroken);
    expect(problems[0]).toContain('not-run needs a reason');
    expect(problems[1]).toContain("unknown directive 'prnts'");
    expect(problems[2]).toContain("unknown language 'ruby'");
    expect(problems[3]).toContain('must be an output or say why it is not run');
  });

  it('refuses a not-run block that also claims an output, and a path outside the working folder', () => {
    const { root, name } = doc(['<!-- not-run: why -->', '<!-- prints: x -->', '```sh', 'x', '```',
      '<!-- file: ../escape.ts -->', '```ts', 'x', '```'].join('\n'));
    const [notRun, escaping] = readBlocks(root, name).map(ruleBroken);
    expect(notRun).toContain('not-run block takes no other directive');
    expect(escaping).toContain('needs a relative path');
  });
});

describe('outputMatches', () => {
  it('takes … for any text and ignores whitespace, but nothing else', () => {
    expect(outputMatches('{"a": 1,\n "b": …}', '{"a":1,"b":{"c":2}}')).toBe(true);
    expect(outputMatches('Echo: Hi', 'Echo: Hi again')).toBe(false);
    expect(outputMatches('a.c', 'abc')).toBe(false);
  });
});

describe('the rest', () => {
  it('names the env variables a config refers to, and reads the last status of a header dump', () => {
    expect(envReferences('value: env.OPENAI_API_KEY, "env.X_2"')).toEqual({
      OPENAI_API_KEY: 'placeholder-for-OPENAI_API_KEY', X_2: 'placeholder-for-X_2' });
    expect(lastStatus('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nx: y\r\n')).toBe(403);
  });

  it("makes GitHub's heading anchors, skips headings inside code, and finds only local links", () => {
    expect(headingAnchor("Google GenAI SDK (`/genai`)")).toBe('google-genai-sdk-genai');
    expect(headingAnchor("Anthropic's Messages API")).toBe('anthropics-messages-api');
    expect([...anchorsOf('# Top\n```sh\n# not a heading\n```\n## Timeouts, overload and shutdown\n')])
      .toEqual(['top', 'timeouts-overload-and-shutdown']);
    const { root, name } = doc('[a](docs/x.md#y) [b](https://example.com) [c](#top)');
    expect(localLinks(root, name).map((link) => link.target)).toEqual(['docs/x.md#y', '#top']);
  });
});
