/**
 * What jira-bridge knows about one Jira site: the lists a mapping is checked against and the
 * console's dropdowns are filled from. Fetched by src/jira/catalog.ts; pure data here.
 */
export interface JiraCatalog {
  flavour: 'cloud' | 'datacenter';
  fetchedAt: string;
  projects: Array<{
    id: string;
    key: string;
    name: string;
    issueTypes: Array<{
      id: string;
      name: string;
      subtask: boolean;
      fields: Array<{ id: string; name: string; required: boolean; options?: Array<{ id: string; value: string }> }>;
    }>;
  }>;
  statuses: Array<{ id: string; name: string; category: 'new' | 'indeterminate' | 'done' }>;
  priorities: Array<{ id: string; name: string }>;
  resolutions: Array<{ id: string; name: string }>;
  fields: Array<{
    id: string;
    name: string;
    custom: boolean;
    type: string;
    customType?: string;
    items?: string;
    options?: Array<{ id: string; value: string }>;
  }>;
  serviceDesks: Array<{
    id: string;
    projectId: string;
    projectKey: string;
    requestTypes: Array<{ id: string; name: string; issueTypeId?: string }>;
  }>;
}
