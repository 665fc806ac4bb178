import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runSandboxCommand } from '../../src/sandbox/cli.js';

describe('runSandboxCommand', () => {
  for (const flavour of ['cloud', 'datacenter'] as const) {
    it(`prints the base URL and seeded credentials (${flavour}) and serves on that URL`, async () => {
      let out = '';
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          out += chunk.toString('utf8');
          cb();
        },
      });
      const sb = await runSandboxCommand({ port: 0, flavour, host: '127.0.0.1', out: sink, detach: true });
      try {
        expect(out).toContain(sb.baseUrl);
        if (flavour === 'cloud') {
          expect(out).toContain(sb.credentials.email);
          expect(out).toContain(sb.credentials.apiToken);
        } else {
          expect(out).toContain(sb.credentials.pat);
        }
        const auth =
          flavour === 'cloud'
            ? `Basic ${Buffer.from(`${sb.credentials.email}:${sb.credentials.apiToken}`).toString('base64')}`
            : `Bearer ${sb.credentials.pat}`;
        const res = await fetch(`${sb.baseUrl}/rest/api/2/myself`, { headers: { authorization: auth } });
        expect(res.status).toBe(200);
      } finally {
        await sb.close();
      }
    });
  }
});
