import { describe, expect, it } from 'vitest';
import { createMetrics, jiraEndpointLabel } from '../../src/metrics/metrics.js';

describe('metrics', () => {
  it('templates Jira paths so ids and keys do not explode label cardinality', () => {
    expect(jiraEndpointLabel('/rest/api/3/issue/SEC-42/transitions?expand=transitions.fields')).toBe(
      '/rest/api/3/issue/{key}/transitions',
    );
    expect(jiraEndpointLabel('https://x.atlassian.net/rest/api/3/issue/10042')).toBe('/rest/api/3/issue/{id}');
    expect(jiraEndpointLabel('/rest/api/3/user?accountId=5b10ac8d82e05b22cc7d4ef5')).toBe('/rest/api/3/user');
    expect(jiraEndpointLabel('/rest/api/3/user/5b10ac8d82e05b22cc7d4ef5')).toBe('/rest/api/3/user/{id}');
    expect(jiraEndpointLabel('/rest/api/3/search/jql')).toBe('/rest/api/3/search/jql');
  });

  it('records Jira calls, job outcomes and HTTP requests', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.recordJiraCall({ endpoint: '/rest/api/3/issue', method: 'post', status: 201, durationMs: 120 });
    m.recordJiraCall({ endpoint: '/rest/api/3/issue', method: 'POST', status: 429 });
    m.recordJiraCall({ endpoint: '/rest/api/3/issue', method: 'POST', status: 'network' });
    m.recordJobOutcome('push', 'retry', 5);
    m.recordJobOutcome('push', 'done');
    m.recordHttp('GET', '/api/v1/jobs', 200, 3);
    const text = await m.render();
    expect(text).toContain(
      'jira_bridge_jira_requests_total{endpoint="/rest/api/3/issue",method="POST",status="201"} 1',
    );
    expect(text).toContain(
      'jira_bridge_jira_requests_total{endpoint="/rest/api/3/issue",method="POST",status="429"} 1',
    );
    expect(text).toContain(
      'jira_bridge_jira_requests_total{endpoint="/rest/api/3/issue",method="POST",status="network"} 1',
    );
    expect(text).toContain(
      'jira_bridge_jira_request_duration_seconds_count{endpoint="/rest/api/3/issue",method="POST"} 1',
    );
    expect(text).toContain('jira_bridge_job_outcomes_total{kind="push",outcome="retry"} 1');
    expect(text).toContain('jira_bridge_job_outcomes_total{kind="push",outcome="done"} 1');
    expect(text).toContain('jira_bridge_http_requests_total{method="GET",route="/api/v1/jobs",status="200"} 1');
  });

  it('reads queue depth and oldest age from the source at scrape time; a failing source hides them', async () => {
    let fail = false;
    const m = createMetrics({
      defaultMetrics: false,
      queueStats: async () => {
        if (fail) throw new Error('store down');
        return { byState: { queued: 3, running: 1, done: 7, dead: 2 }, oldestQueuedAgeMs: 4500, ready: 2 };
      },
    });
    const text = await m.render();
    expect(text).toContain('jira_bridge_queue_jobs{state="queued"} 3');
    expect(text).toContain('jira_bridge_queue_jobs{state="dead"} 2');
    expect(text).toContain('jira_bridge_queue_oldest_job_age_seconds{state="queued"} 4.5');
    fail = true;
    await new Promise((r) => setImmediate(r));
    await expect(m.render()).resolves.toContain('# TYPE jira_bridge_queue_jobs gauge');
  });

  it('two instances do not share instruments', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.recordJobOutcome('push', 'done');
    expect(await b.render()).not.toContain('outcome="done"');
  });
});

describe('jiraCallRecorder', () => {
  it('turns Jira client call events into the Jira request counter', async () => {
    const { jiraCallRecorder } = await import('../../src/metrics/metrics.js');
    const m = createMetrics({ defaultMetrics: false });
    const onCall = jiraCallRecorder(m);
    onCall({ method: 'GET', route: '/rest/api/3/issue/{id}/transitions', status: 200, durationMs: 10 });
    onCall({ method: 'GET', route: '/rest/api/3/myself', status: 0, durationMs: 10 });
    const text = await m.render();
    expect(text).toContain(
      'jira_bridge_jira_requests_total{endpoint="/rest/api/3/issue/{id}/transitions",method="GET",status="200"} 1',
    );
    expect(text).toContain(
      'jira_bridge_jira_requests_total{endpoint="/rest/api/3/myself",method="GET",status="network"} 1',
    );
  });
});
