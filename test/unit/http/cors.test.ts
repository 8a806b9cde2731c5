import { describe, expect, it } from 'vitest';
import { corsPolicy } from '../../../src/http/cors.js';

describe('corsPolicy', () => {
  it('is absent without allowed origins', () => {
    expect(corsPolicy([])).toBeNull();
  });

  it('echoes an allowed origin, compared as the browser writes it, and gives others only Vary', () => {
    const policy = corsPolicy(['https://App.example.com/'])!;
    expect(policy.responseHeaders('https://app.example.com')).toEqual({ 'access-control-allow-origin': 'https://app.example.com',
      'access-control-expose-headers': '*', vary: 'Origin' });
    for (const origin of ['https://app.example.com:8443', 'http://app.example.com', 'https://evil.example', undefined, 'null']) {
      expect(policy.responseHeaders(origin), String(origin)).toEqual({ vary: 'Origin' });
    }
  });

  it("matches Bifrost's subdomain wildcards, with or without a scheme, but not the apex or a look-alike", () => {
    const withScheme = corsPolicy(['https://*.example.com'])!;
    const allowed = (origin: string) => 'access-control-allow-origin' in withScheme.responseHeaders(origin);
    expect(allowed('https://a.example.com')).toBe(true);
    expect(allowed('https://a.b.example.com')).toBe(true);
    expect(allowed('http://a.example.com')).toBe(false);
    expect(allowed('https://example.com')).toBe(false);
    expect(allowed('https://a.example.com.evil.io')).toBe(false);
    expect(allowed('https://aexample.com')).toBe(false);
    const anyScheme = corsPolicy(['*.example.com'])!;
    expect('access-control-allow-origin' in anyScheme.responseHeaders('http://dev.example.com')).toBe(true);
  });

  it('answers a preflight with the requested headers when they are a plain list, else with a default list', () => {
    const policy = corsPolicy(['*'])!;
    expect(policy.preflightHeaders('https://x.dev', 'Authorization, X-Stainless-Lang')).toMatchObject({
      'access-control-allow-origin': 'https://x.dev', 'access-control-allow-headers': 'Authorization, X-Stainless-Lang',
      'access-control-allow-methods': 'GET, POST, HEAD, OPTIONS', 'access-control-max-age': '7200' });
    expect(policy.preflightHeaders('https://x.dev', 'bad\r\nheader')['access-control-allow-headers'])
      .toBe('authorization, content-type, x-api-key, x-request-id');
    expect(policy.preflightHeaders(undefined, undefined)).toEqual({ vary: 'Origin, Access-Control-Request-Headers' });
  });
});
