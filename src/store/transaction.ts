/**
 * After-commit hooks: code running inside `store.transaction()` can ask for a callback once the
 * transaction has committed (the queue uses it to wake workers only when jobs are visible).
 * Outside a transaction managed by `store.transaction()`, the callback runs on the next tick.
 */
const hooks = new WeakMap<object, Array<() => void>>();

export function registerTransaction(trx: object): Array<() => void> {
  const list: Array<() => void> = [];
  hooks.set(trx, list);
  return list;
}

export function afterCommit(trx: object, fn: () => void): void {
  const list = hooks.get(trx);
  if (list) list.push(fn);
  else setImmediate(fn);
}

export function runHooks(list: Array<() => void>): void {
  for (const fn of list) {
    try {
      fn();
    } catch {
      // A hook failing must not turn a committed transaction into a reported failure.
    }
  }
}
