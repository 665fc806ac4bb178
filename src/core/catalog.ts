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
      /**
       * The statuses of this issue type's workflow in the project (names), where the site lists
       * them (`/project/{key}/statuses`); absent: unknown, nothing is checked against it.
       */
      statuses?: string[];
      fields: Array<{
        id: string;
        name: string;
        required: boolean;
        /** Jira fills it when a create leaves it out (createmeta `hasDefaultValue`). */
        hasDefault?: boolean;
        options?: Array<{ id: string; value: string }>;
      }>;
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
  /** Issue link types (absent when the site's issue linking is off, or in an older catalogue). */
  linkTypes?: Array<{ id: string; name: string; inward: string; outward: string }>;
  serviceDesks: Array<{
    id: string;
    projectId: string;
    projectKey: string;
    requestTypes: Array<{ id: string; name: string; issueTypeId?: string }>;
  }>;
  /** Why the service desks could not be read (an OAuth grant without the Service Management scopes). */
  serviceDesksUnreadable?: string;
}

/** How jira-bridge writes a value to a Jira field (the engine's field types). */
export type FieldWriteType =
  'string' | 'textarea' | 'number' | 'url' | 'date' | 'datetime' | 'select' | 'multiselect' | 'labels' | 'user';

/** Jira's custom field type keys → how a host value is written to them. */
const CUSTOM_TYPES: Record<string, FieldWriteType> = {
  textfield: 'string',
  textarea: 'textarea',
  float: 'number',
  url: 'url',
  datepicker: 'date',
  datetime: 'datetime',
  select: 'select',
  radiobuttons: 'select',
  multiselect: 'multiselect',
  multicheckboxes: 'multiselect',
  labels: 'labels',
  userpicker: 'user',
};

/**
 * The write type of a Jira field from its schema (custom type first, then the schema type).
 * src/config/to-engine.ts resolves a field mapping without a `type` with it.
 */
export function fieldWriteType(field: JiraCatalog['fields'][number]): FieldWriteType {
  const custom = field.customType?.split(':').pop();
  if (custom && CUSTOM_TYPES[custom]) return CUSTOM_TYPES[custom];
  switch (field.type) {
    case 'number':
      return 'number';
    case 'date':
      return 'date';
    case 'datetime':
      return 'datetime';
    case 'user':
      return 'user';
    case 'option':
      return 'select';
    case 'array':
      return field.items === 'option' ? 'multiselect' : 'labels';
    default:
      return 'string';
  }
}

/**
 * The parts of a site's catalogue something needs (src/jira/catalog.ts fetches each part once per
 * connection, on first need). The project list comes with any project; `projects` are the ones
 * whose issue types are needed.
 */
export interface CatalogNeeds {
  statuses: boolean;
  priorities: boolean;
  resolutions: boolean;
  fields: boolean;
  linkTypes: boolean;
  /** Projects (key or id) whose issue types are needed. */
  projects: string[];
  /** Issue types (name or id) of a project whose create fields (and their options) are needed. */
  createFields: Array<{ project: string; issueType: string }>;
  /** Service desks (id or project key) whose request types are needed. */
  serviceDesks: string[];
  /** Projects (key or id) whose issue types' workflow statuses are needed (`/project/{key}/statuses`). */
  workflows?: string[];
}

export const NO_NEEDS: CatalogNeeds = {
  statuses: false,
  priorities: false,
  resolutions: false,
  fields: false,
  linkTypes: false,
  projects: [],
  createFields: [],
  serviceDesks: [],
  workflows: [],
};

/** The union of several needs. */
export function mergeNeeds(...all: CatalogNeeds[]): CatalogNeeds {
  const uniq = <T>(xs: T[], key: (x: T) => string): T[] => [...new Map(xs.map((x) => [key(x), x])).values()];
  return {
    statuses: all.some((n) => n.statuses),
    priorities: all.some((n) => n.priorities),
    resolutions: all.some((n) => n.resolutions),
    fields: all.some((n) => n.fields),
    linkTypes: all.some((n) => n.linkTypes),
    projects: uniq(
      all.flatMap((n) => n.projects),
      (p) => p.toLowerCase(),
    ),
    createFields: uniq(
      all.flatMap((n) => n.createFields),
      (c) => `${c.project.toLowerCase()}/${c.issueType.toLowerCase()}`,
    ),
    serviceDesks: uniq(
      all.flatMap((n) => n.serviceDesks),
      (d) => d.toLowerCase(),
    ),
    workflows: uniq(
      all.flatMap((n) => n.workflows ?? []),
      (p) => p.toLowerCase(),
    ),
  };
}
