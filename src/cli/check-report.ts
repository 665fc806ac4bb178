/** The outcome of `jira-bridge check`, and its human-readable rendering (pure). */

export interface CheckIssue {
  path: string;
  message: string;
}

export interface MappingResult {
  /** How the mapping is named in the report, e.g. `mappings[0] scanner → SEC`. */
  label: string;
  ok: boolean;
  issues: CheckIssue[];
  /** Set when the mapping could not be checked (its connection failed, --offline). */
  skipped?: string;
}

export interface ConnectionResult {
  name: string;
  url: string;
  /** Shown loudly: TLS verification is off for this connection. */
  tlsInsecure: boolean;
  /** Connected: who and what server. Failed: the precise reason. Offline: why not checked. */
  ok: boolean;
  detail: string;
  skipped?: boolean;
  mappings: MappingResult[];
}

export interface CheckReport {
  configSource: string;
  /** Structural problems found without contacting Jira (references, duplicates, …). */
  structureIssues: CheckIssue[];
  connections: ConnectionResult[];
}

export function reportProblems(r: CheckReport): number {
  let n = r.structureIssues.length;
  for (const c of r.connections) {
    if (!c.ok && !c.skipped) n++;
    for (const m of c.mappings) n += m.issues.length;
  }
  return n;
}

export function tlsWarning(connection: string): string[] {
  const msg = `WARNING: connection "${connection}" does NOT verify Jira's TLS certificate.`;
  const lines = [
    msg,
    'Anyone on the network path can read and change the traffic, including the credentials.',
    'Trust a private CA with a CA bundle in the connection settings instead of turning verification off.',
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const bar = '!'.repeat(width + 4);
  return [bar, ...lines.map((l) => `! ${l.padEnd(width)} !`), bar];
}

export function renderCheckReport(r: CheckReport): string {
  const out: string[] = [];
  const structureOk = r.structureIssues.length === 0;
  out.push(`Configuration ${r.configSource}`);
  out.push(structureOk ? '  ✓ valid' : `  ✗ ${r.structureIssues.length} problem(s)`);
  for (const i of r.structureIssues) out.push(`      ${i.path}: ${i.message}`);
  for (const c of r.connections) {
    out.push('');
    if (c.tlsInsecure) out.push(...tlsWarning(c.name));
    out.push(`Connection ${c.name} (${c.url})`);
    out.push(`  ${c.skipped ? '-' : c.ok ? '✓' : '✗'} ${c.detail}`);
    for (const m of c.mappings) {
      if (m.skipped) {
        out.push(`  - ${m.label}: not checked (${m.skipped})`);
        continue;
      }
      out.push(`  ${m.ok ? '✓' : '✗'} ${m.label}`);
      for (const i of m.issues) out.push(`      ${i.path}: ${i.message}`);
    }
  }
  out.push('');
  const problems = reportProblems(r);
  out.push(
    problems === 0
      ? 'Result: ✓ no problems found.'
      : `Result: ✗ ${problems} problem(s) found; fix them and run \`jira-bridge check\` again.`,
  );
  return out.join('\n') + '\n';
}
