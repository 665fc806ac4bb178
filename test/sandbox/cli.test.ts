import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runSandboxCommand } from '../../src/sandbox/cli.js';
import { loadSandboxFile, parseSandboxFile, SandboxFileError } from '../../src/sandbox/config-file.js';

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

describe('the sandbox file (jira-bridge sandbox --config)', () => {
  const sink = (): { stream: Writable; text: () => string } => {
    let out = '';
    return {
      stream: new Writable({
        write(chunk: Buffer, _enc, cb) {
          out += chunk.toString('utf8');
          cb();
        },
      }),
      text: () => out,
    };
  };

  it('starts with the knobs, webhook faults and admin webhooks it names (env references filled in, Jira variables kept)', async () => {
    let received: { url: string; signature: string | undefined } | undefined;
    const receiver = createServer((req, res) => {
      received = { url: req.url ?? '', signature: req.headers['x-hub-signature'] as string | undefined };
      req.resume();
      res.end();
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    const file = parseSandboxFile(
      [
        'flavour: datacenter',
        'knobs: { latencyMs: 5, rateLimit: { capacity: 40, refillPerSecond: 20 } }',
        'webhookFaults: { duplicateRate: 0 }',
        'webhooks:',
        '  - name: bridge',
        `    url: "http://127.0.0.1:${port}/hook?issue=\${issue.key}"`,
        '    events: [jira:issue_created]',
        '    secret: ${HOOK_SECRET}',
        '',
      ].join('\n'),
      { HOOK_SECRET: 's3cret' },
    );
    const out = sink();
    const sb = await runSandboxCommand({ port: 0, file, out: out.stream, detach: true });
    try {
      expect(sb.flavour).toBe('datacenter');
      expect(sb.knobs.get()).toMatchObject({ latencyMs: 5, rateLimit: { capacity: 40, refillPerSecond: 20 } });
      expect(out.text()).toMatch(
        /Webhook \d+ "bridge" → http:\/\/127\.0\.0\.1:\d+\/hook\?issue=\$\{issue\.key\} \(jira:issue_created\), signed/,
      );
      expect(out.text()).not.toContain('s3cret');
      const res = await fetch(`${sb.baseUrl}/rest/api/2/issue`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sb.credentials.pat}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'from the file' },
        }),
      });
      expect(res.status).toBe(201);
      const { key } = (await res.json()) as { key: string };
      await sb.webhooks.drain();
      expect(received?.url).toBe(`/hook?issue=${key}`);
      expect(received?.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    } finally {
      await sb.close();
      receiver.close();
    }
  });

  it('names every wrong path, unknown keys and unset environment variables', () => {
    const err = (text: string, env: NodeJS.ProcessEnv = {}): string[] => {
      try {
        parseSandboxFile(text, env);
      } catch (e) {
        expect(e).toBeInstanceOf(SandboxFileError);
        return (e as SandboxFileError).issues.map((i) => `${i.path}: ${i.message}`);
      }
      throw new Error('expected an error');
    };
    expect(err('flavour: server\nknobs: { latencyMs: -1, errorRate: 2, lag: 3 }\n').join('\n')).toMatch(
      /flavour: .*cloud.*datacenter[\s\S]*knobs\.latencyMs: .*>=0[\s\S]*knobs\.errorRate: .*<=1[\s\S]*knobs: .*"lag"/,
    );
    expect(err('webhooks:\n  - { name: a, url: "ftp://x", events: [] }\n')).toEqual([
      expect.stringMatching(/^webhooks\[0\]\.url: must be an http\(s\) URL/),
      'webhooks[0].events: list at least one event, e.g. [jira:issue_updated]',
    ]);
    expect(err('webhooks:\n  - { name: a, url: "http://x/${issue.key}", events: [x], secret: "${NOPE}" }\n')).toEqual([
      'webhooks[0].secret: environment variable NOPE is not set',
    ]);
    expect(err('webhookFaults: { delayMs: [50, 10] }\n')).toEqual([
      'webhookFaults.delayMs: must be [min, max] with min <= max',
    ]);
  });

  it('the example file in examples/ is valid', () => {
    const f = loadSandboxFile('examples/sandbox.example.yaml', { SANDBOX_WEBHOOK_SECRET: 'x' });
    expect(f.webhooks?.[0]?.url).toContain('${issue.key}');
    expect(f.knobs?.rateLimit).toEqual({ capacity: 100, refillPerSecond: 10 });
  });
});
