export type { JiraCatalog } from '../core/catalog.js';
