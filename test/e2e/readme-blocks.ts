// The fenced code blocks of the user documentation (README.md, docs/*.md), read with the HTML comments that say how
// each is checked. A directive is a comment on its own line right before the block (blank lines and other directives
// may sit between):
//
//   <!-- not-run: <reason> -->   the block cannot run here; the reason is required
//   <!-- output -->              the block is what the previous run block printed (`…` stands for anything)
//   <!-- prints: <text> -->      the same, for a run block whose output the reader need not see
//   <!-- file: <path> -->        the block is also written to that path, relative to the examples' working folder
//   <!-- gateway: <config> -->   the block runs against a gateway started with that config file (written by `file:`)
//   <!-- expect-status: N M -->  the HTTP statuses of the block's curl calls, in order (default: each a 2xx)
//
// What a block is follows from its language: sh/bash run in bash, ts/js run through tsx, json/yaml are configs and
// go through Heimdall's config loader. A block with no language must be an output or say why it is not run.

import { readFileSync } from 'node:fs';

export type BlockKind = 'shell' | 'script' | 'config' | 'text';

export interface Directives {
  notRun?: string;
  output?: boolean;
  prints?: string;
  file?: string;
  gateway?: string;
  expectStatus?: number[];
}

export interface Block {
  /** The document, relative to the repository's root. */
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  kind: BlockKind;
  code: string;
  directives: Directives;
  /** Directive comments that could not be read; the test reports them. */
  problems: string[];
}

const KINDS: Record<string, BlockKind> = {
  sh: 'shell', bash: 'shell', shell: 'shell',
  ts: 'script', typescript: 'script', js: 'script', javascript: 'script', mjs: 'script',
  json: 'config', yaml: 'config', yml: 'config',
  text: 'text', '': 'text',
};

const DIRECTIVE = /^<!--\s*([a-z-]+)(?::\s*(.*?))?\s*-->$/;

export function readBlocks(root: string, doc: string): Block[] {
  const lines = readFileSync(`${root}/${doc}`, 'utf8').split('\n');
  const blocks: Block[] = [];
  let pending: { directives: Directives; problems: string[] } = { directives: {}, problems: [] };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^(`{3,})\s*([\w-]*)\s*$/.exec(line);
    if (fence) {
      const close = lines.findIndex((candidate, j) => j > i && candidate.startsWith(fence[1]) && candidate.trim() === fence[1]);
      if (close < 0) throw new Error(`${doc}:${i + 1}: code block never closed`);
      const lang = fence[2].toLowerCase();
      const problems = [...pending.problems];
      const kind = KINDS[lang];
      if (!kind) problems.push(`unknown language '${lang}'`);
      blocks.push({ doc, line: i + 1, lang, kind: kind ?? 'text', code: lines.slice(i + 1, close).join('\n') + '\n',
        directives: pending.directives, problems });
      pending = { directives: {}, problems: [] };
      i = close;
      continue;
    }
    const comment = DIRECTIVE.exec(line.trim());
    if (comment) {
      readDirective(comment[1], comment[2], pending);
      continue;
    }
    if (line.trim() !== '') pending = { directives: {}, problems: [] };
  }
  return blocks;
}

function readDirective(name: string, value: string | undefined, into: { directives: Directives; problems: string[] }): void {
  const { directives, problems } = into;
  switch (name) {
    case 'not-run':
      if (!value) problems.push('not-run needs a reason: <!-- not-run: why -->');
      else directives.notRun = value;
      return;
    case 'output':
      directives.output = true;
      return;
    case 'prints':
      if (!value) problems.push('prints needs the text the block prints: <!-- prints: … -->');
      else directives.prints = value;
      return;
    case 'file':
    case 'gateway':
      if (!value || value.startsWith('/') || value.includes('..')) problems.push(`${name} needs a relative path, got '${value ?? ''}'`);
      else directives[name] = value;
      return;
    case 'expect-status': {
      const statuses = (value ?? '').split(/\s+/).map(Number);
      if (statuses.some((status) => !Number.isInteger(status) || status < 100 || status > 599)) {
        problems.push(`expect-status needs HTTP statuses, got '${value ?? ''}'`);
      } else directives.expectStatus = statuses;
      return;
    }
    default:
      problems.push(`unknown directive '${name}'`);
  }
}

/** Whether a block is checked at all, and if not, why not; for the first test, which holds every block to a rule. */
export function ruleBroken(block: Block): string | null {
  if (block.problems.length > 0) return block.problems.join('; ');
  const { directives: d, kind } = block;
  if (d.notRun !== undefined && (d.output || d.prints || d.gateway || d.expectStatus)) return 'a not-run block takes no other directive';
  if (kind === 'text' && d.notRun === undefined && !d.output) return 'a block with no runnable language must be an output or say why it is not run';
  if (d.gateway && kind !== 'shell' && kind !== 'script') return 'only sh and ts/js blocks run against a gateway';
  if (d.expectStatus && kind !== 'shell') return 'expect-status applies to curl calls in sh blocks';
  if (d.output && (d.file || d.gateway || d.expectStatus || d.prints)) return 'an output block takes no other directive';
  if (d.prints && kind !== 'shell' && kind !== 'script') return 'prints applies to sh and ts/js blocks';
  return null;
}

/** `…` in an expected output stands for any text; whitespace (line breaks, pretty-printing) does not count. */
export function outputMatches(expected: string, actual: string): boolean {
  const squeeze = (text: string) => text.replace(/\s+/g, '');
  const pattern = squeeze(expected).split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*?');
  return new RegExp(`^${pattern}$`).test(squeeze(actual));
}

/** The `env.VAR` names a config refers to, so the loader can be given a placeholder for each. */
export function envReferences(text: string): Record<string, string> {
  const names = new Set([...text.matchAll(/\benv\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1]));
  return Object.fromEntries([...names].map((name) => [name, `placeholder-for-${name}`]));
}

/** The last HTTP status in a curl `-D` header dump (after any redirects or 100 Continue). */
export function lastStatus(headerDump: string): number | null {
  const statuses = [...headerDump.matchAll(/^HTTP\/[\d.]+ (\d{3})/gm)].map((match) => Number(match[1]));
  return statuses.at(-1) ?? null;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function headingAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

/** The anchors of a Markdown file's headings, code blocks left out. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  let inBlock = false;
  for (const line of text.split('\n')) {
    if (/^`{3,}/.test(line)) inBlock = !inBlock;
    const heading = !inBlock && /^#{1,6} (.*)$/.exec(line);
    if (heading) anchors.add(headingAnchor(heading[1]));
  }
  return anchors;
}

export interface Link { doc: string; line: number; target: string }

/** Links to files of the repository (`path`, `path#anchor`, `#anchor`); web links are not followed. */
export function localLinks(root: string, doc: string): Link[] {
  const links: Link[] = [];
  readFileSync(`${root}/${doc}`, 'utf8').split('\n').forEach((text, index) => {
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (!/^[a-z]+:/.test(match[1])) links.push({ doc, line: index + 1, target: match[1] });
    }
  });
  return links;
}
