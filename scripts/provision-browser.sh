#!/usr/bin/env bash
# Install Debian's Chromium and its WebDriver (for tests/test_html_browser.py), unless both are present.
# Idempotent and quick when installed: it only runs apt when /usr/bin/chromium or /usr/bin/chromedriver is
# missing, and then runs `apt-get update` once. Needs root (CI and the developer machines run as root).
# No browser is ever downloaded outside Debian's packages (the browser test drives /usr/bin/chromium).
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  echo "provision-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q chromium chromium-driver
/usr/bin/chromium --version
/usr/bin/chromedriver --version
