import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { createSecretBox, parseMasterKey, type SecretBox } from './secret-box.js';

/**
 * The master key: `JIRA_BRIDGE_MASTER_KEY` (base64, 32 bytes; required for replicas, which must
 * share it), else `<data dir>/master.key`, created on first start (mode 0600) so one machine
 * needs no setup. `JIRA_BRIDGE_PREVIOUS_MASTER_KEYS` (comma-separated) still opens values sealed
 * before a rotation.
 */
export function loadSecretBox(env: NodeJS.ProcessEnv, dataDir: string, logger?: Logger): SecretBox {
  const previous = (env.JIRA_BRIDGE_PREVIOUS_MASTER_KEYS ?? '')
    .split(',')
    .filter((s) => s.trim())
    .map((s, i) => parseMasterKey(s, `JIRA_BRIDGE_PREVIOUS_MASTER_KEYS[${i}]`));
  if (env.JIRA_BRIDGE_MASTER_KEY)
    return createSecretBox(parseMasterKey(env.JIRA_BRIDGE_MASTER_KEY, 'JIRA_BRIDGE_MASTER_KEY'), previous);
  const file = join(dataDir, 'master.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    logger?.warn(
      { file },
      'created a master key for secrets at rest; set JIRA_BRIDGE_MASTER_KEY in production and keep a copy',
    );
  }
  return createSecretBox(parseMasterKey(readFileSync(file, 'utf8'), file), previous);
}
