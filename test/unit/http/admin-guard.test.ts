import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../../src/http/admin-guard.js';

describe('isLoopback (who may call /api/reload)', () => {
  it.each(['127.0.0.1', '127.8.9.10', '::1', '0000:0000:0000:0000:0000:0000:0000:0001',
    '0000:0000:0000:0000:0000:ffff:7f00:0001', '::ffff:127.0.0.1'])('accepts %s', (address) => {
    expect(isLoopback(address)).toBe(true);
  });
  it.each(['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', '0000:0000:0000:0000:0000:ffff:0a00:0001', 'fe80::1', '', 'nonsense'])(
    'refuses %s', (address) => {
      expect(isLoopback(address)).toBe(false);
    });
});
