/**
 * The loud demo-mode banner: printed to stderr when `serve` finds no configuration file and runs
 * against the built-in Jira sandbox, so nobody mistakes the demo for a real deployment.
 */
export function demoBanner(opts: { sandboxUrl: string; dataDir: string; serviceUrl: string }): string {
  const lines = [
    'DEMO MODE: no jira-bridge.yaml found — running against the built-in Jira sandbox',
    '',
    `  Jira sandbox : ${opts.sandboxUrl}`,
    `  Service      : ${opts.serviceUrl}   (API reference: ${opts.serviceUrl}/docs)`,
    `  Data         : ${opts.dataDir}`,
    '',
    'Nothing here talks to a real Jira. To start for real:',
    '  cp examples/jira-bridge.example.yaml jira-bridge.yaml   (then edit it; `jira-bridge check` validates it)',
  ];
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = '#'.repeat(width);
  const body = lines.map((l) => `# ${l.padEnd(width - 4)} #`);
  return ['', bar, ...body, bar, ''].join('\n') + '\n';
}
