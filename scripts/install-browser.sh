#!/bin/sh
# Installs Debian's Chromium for the console's browser tests (playwright-core drives it; browser
# downloads are not used). Part of the README's test command and of .ci/run. Needs root or sudo
# and apt; where it cannot install, it says why and exits 0: the browser tests then skip, saying so.
if [ -x /usr/bin/chromium ]; then echo "chromium: $(/usr/bin/chromium --version)"; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: no apt-get here; install Chromium at /usr/bin/chromium yourself, or the console's browser tests skip" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-browser: not root and no sudo; run as root to install Chromium, or the console's browser tests skip" >&2
    exit 0
  fi
fi
if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; then
  echo "chromium: $(/usr/bin/chromium --version)"
else
  echo "install-browser: apt-get could not install chromium (see above); the console's browser tests will skip" >&2
fi
exit 0
