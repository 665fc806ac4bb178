export { openStore, type Store, type OpenStoreOptions, type PubSub } from './store.js';
export type { Dialect } from './dialect.js';
export type * from './schema.js';
export { afterCommit } from './transaction.js';
export { toJson, fromJson } from './json.js';
export { newId } from './ids.js';
export { tryAcquireLock, releaseLock } from './locks.js';
export { MIGRATION_NAMES } from './migrations/index.js';
export { SQLITE_FILE } from './sqlite.js';
