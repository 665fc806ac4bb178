/** Process exit codes of the `jira-bridge` CLI (also listed in `--help`). */
export const EXIT = {
  OK: 0,
  /** Unexpected failure: store unreachable, port in use, a crash. */
  FAILURE: 1,
  /** The configuration file is invalid, or the command line is wrong. Nothing was started. */
  CONFIG_INVALID: 2,
  /** `check`: the configuration is valid but a connection or mapping does not match Jira. */
  CHECK_FAILED: 3,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success (serve: stopped cleanly on SIGTERM/SIGINT)
  1  unexpected failure (store unreachable, port in use, …); see the log
  2  invalid configuration or command line; each problem is printed as "path: message"
  3  check: a connection or mapping does not match Jira`;
