/**
 * Bounded fault soak (see ./soak-driver.ts): 5xx throughout, then in turn latency spikes
 * (0.8–2 s per call), a 429 storm (tight bucket spent by a noisy neighbour too) and expired
 * credentials, with webhook faults all along; reports figures per phase and the convergence.
 *
 *   npx tsx bench/soak.ts [--seconds 120] [--records 20] [--expired-auth 5] [--seed 1] [--error-rate 0.05]
 */
import { parseArgs } from 'node:util';
import { printMachine } from './machine.js';
import { runSoak } from './soak-driver.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    records: { type: 'string', default: '20' },
    'expired-auth': { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    'error-rate': { type: 'string', default: '0.05' },
  },
});
const machine = await printMachine();
const report = await runSoak({
  seconds: Number(values.seconds),
  records: Number(values.records),
  expiredAuthSeconds: Number(values['expired-auth']),
  seed: Number(values.seed),
  errorRate: Number(values['error-rate']),
  progress: (line) => process.stderr.write(`soak: ${line}\n`),
});
console.log(
  JSON.stringify(
    {
      command: `npx tsx bench/soak.ts --seconds ${values.seconds} --records ${values.records} --expired-auth ${values['expired-auth']} --seed ${values.seed} --error-rate ${values['error-rate']}`,
      machine,
      ...report,
    },
    null,
    2,
  ),
);
process.exit(
  report.mismatches.length || report.duplicateIssues || report.commentProblems.length || report.stuckJobs ? 1 : 0,
);
