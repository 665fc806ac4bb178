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
