/**
 * TEST-ONLY crash points. Inert unless the process runs with NODE_ENV=test AND
 * `JIRA_BRIDGE_FAILPOINT=<name>[:<n>]` is set: then the n-th time (default the first) this process
 * passes the named point, it SIGKILLs itself — no drain, no lease released, no store write after
 * the point — exactly what a crash at that moment leaves behind. The crash tests
 * (test/engine/crash-journal.test.ts) start real `jira-bridge serve` processes with it.
 *
 * Points: `after-jira-create` (Jira answered the create, the link is not saved yet),
 * `after-jira-rework-create` (Jira created a rework task, its row is not saved yet),
 * `after-jira-transition` (Jira answered one hop of a status walk, the next hop not sent yet).
 * Never set it in production.
 */
const hits = new Map<string, number>();

export function failpoint(name: string): void {
  const spec = process.env.JIRA_BRIDGE_FAILPOINT;
  if (!spec || process.env.NODE_ENV !== 'test') return;
  const [point, nth] = spec.split(':');
  if (point !== name) return;
  const n = (hits.get(name) ?? 0) + 1;
  hits.set(name, n);
  if (n === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}
