import type { ConnectionInfo, MappingSource, OutboundMapping } from './types.js';

/**
 * A MappingSource over fixed lists (the composition root builds the lists from the config).
 * `replace` swaps the lists at runtime (config reload): new work uses the new mappings, linked
 * records keep the snapshot they were linked with until re-synced.
 */
export function staticMappingSource(
  mappings: OutboundMapping[],
  connections: ConnectionInfo[],
): MappingSource & { replace(mappings: OutboundMapping[], connections?: ConnectionInfo[]): void } {
  let byScope = new Map<string, OutboundMapping>();
  let byId = new Map<string, OutboundMapping>();
  let conns = new Map<string, ConnectionInfo>();
  const load = (ms: OutboundMapping[], cs: ConnectionInfo[]): void => {
    byScope = new Map(ms.map((m) => [m.scope, m]));
    byId = new Map(ms.map((m) => [m.id, m]));
    conns = new Map(cs.map((c) => [c.id, c]));
  };
  load(mappings, connections);
  return {
    forScope: (scope) => byScope.get(scope),
    byId: (id) => byId.get(id),
    all: () => [...byId.values()],
    connection: (id) => conns.get(id),
    connections: () => [...conns.values()],
    replace(ms, cs) {
      load(ms, cs ?? [...conns.values()]);
    },
  };
}
