#!/bin/sh
# Installs the Jira clients written by others that the compatibility suite (test/compat) drives
# against the sandbox and that npm does not bring: Debian's python3-jira (the Python `jira`
# library, for Debian's /usr/bin/python3). jira-client and jira.js come with `npm ci`. Part of the
# README's test command and of .ci/run. Needs root or sudo and apt; where it cannot install, it
# says why and exits 0: test/compat/python-jira.test.ts then fails, naming this script.
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import jira' 2>/dev/null; then
  echo "python3-jira: $(/usr/bin/python3 -c 'import jira; print(jira.__version__)')"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-jira-clients: no apt-get here; install Debian's python3-jira (or 'pip install jira' for /usr/bin/python3) yourself" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-jira-clients: not root and no sudo; run as root to install python3-jira" >&2
    exit 0
  fi
fi
if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-jira >/dev/null; then
  echo "python3-jira: $(/usr/bin/python3 -c 'import jira; print(jira.__version__)')"
else
  echo "install-jira-clients: apt-get could not install python3-jira (see above)" >&2
fi
exit 0
