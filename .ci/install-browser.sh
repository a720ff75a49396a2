#!/usr/bin/env bash
# Debian's chromium for the end-to-end browser test (Playwright drives /usr/bin/chromium; nothing is
# downloaded at test time). Idempotent and quiet: does nothing when chromium is already installed.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
