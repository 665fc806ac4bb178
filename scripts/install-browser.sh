#!/bin/sh
# Installs Debian's Chromium for the console's browser tests (playwright-core drives it).
# Needs root (or sudo). The tests skip with a printed reason when /usr/bin/chromium is absent.
set -e
if [ -x /usr/bin/chromium ]; then echo "chromium already installed: $(/usr/bin/chromium --version)"; exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
