#!/usr/bin/env bash
# Install Debian's Chromium, its WebDriver and a colour emoji font (for tests/test_html_browser.py and the
# README screenshot), unless they are present. Idempotent and quick when installed: apt runs only when
# something is missing, and then `apt-get update` runs once. Needs root (CI and the developer machines run
# as root; otherwise sudo). No browser is ever downloaded outside Debian's packages.
set -euo pipefail

PACKAGES=(chromium chromium-driver fonts-noto-color-emoji)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ] && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  echo "provision-browser: chromium, chromium-driver and fonts-noto-color-emoji already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "provision-browser: installing ${missing[*]:-chromium} from Debian (apt-get update, then install; a minute or two) ..." >&2
$SUDO apt-get update -q
$SUDO apt-get install -y -q "${PACKAGES[@]}"
# The Debian wrapper script of chromium prints a harmless shell warning on some machines: hide stderr.
/usr/bin/chromium --version 2>/dev/null
/usr/bin/chromedriver --version
