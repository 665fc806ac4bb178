export {
  createMetrics,
  jiraEndpointLabel,
  jiraCallRecorder,
  type Metrics,
  type MetricsOptions,
  type JobOutcome,
  type JiraCallSample,
} from './metrics.js';
