import { describe, expect, it } from 'vitest';
import { UploadSessions } from '../../../src/dialects/files-genai.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';

describe('UploadSessions (the resumable uploads the gateway holds)', () => {
  it('collects a session\'s chunks in order and hands them over once, at the last', () => {
    const sessions = new UploadSessions(100);
    const id = sessions.open({ file: {} }, 'text/plain', 'gemini');
    expect(sessions.take(id, Buffer.from('ab'), false)).toBeNull();
    const done = sessions.take(id, Buffer.from('cd'), true);
    expect(Buffer.concat(done!.parts).toString()).toBe('abcd');
    expect(done!.provider).toBe('gemini');
    expect(() => sessions.take(id, Buffer.from('e'), true)).toThrow(expect.objectContaining({ data: expect.objectContaining({ code: 'RESOURCE_NOT_FOUND' }) }));
  });

  it('refuses a session past the limit, and all sessions together past four times it, and frees what it refused', () => {
    const sessions = new UploadSessions(10);
    const big = sessions.open({}, 'x', null);
    expect(() => sessions.take(big, Buffer.alloc(11), true)).toThrow(GatewayError);
    const open = [1, 2, 3, 4].map(() => sessions.open({}, 'x', null));
    for (const id of open) expect(sessions.take(id, Buffer.alloc(10), false)).toBeNull();
    const fifth = sessions.open({}, 'x', null);
    expect(() => sessions.take(fifth, Buffer.alloc(1), false)).toThrow(expect.objectContaining({ data: expect.objectContaining({ code: 'BODY_TOO_LARGE' }) }));
    // Finishing one frees its bytes for the others.
    expect(sessions.take(open[0], null, true)?.size).toBe(10);
    const sixth = sessions.open({}, 'x', null);
    expect(sessions.take(sixth, Buffer.alloc(10), true)?.size).toBe(10);
  });
});
