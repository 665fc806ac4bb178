/**
 * Process entry of the `jira-bridge` CLI (bin/jira-bridge.js imports this file through tsx).
 * Runs the command, then exits with its code. Handles still open after a command finished
 * (keep-alive sockets, timers) do not keep the process alive: the exit is forced after a
 * short grace period that lets buffered output flush.
 */
import { run } from './program.js';

const code = await run(process.argv);
process.exitCode = code;
setTimeout(() => process.exit(code), 1000).unref();
