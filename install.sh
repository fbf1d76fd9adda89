#!/usr/bin/env bash
# Install SoundSight into the active Python environment (a venv): system packages, the CPU torch
# first (an unpinned torch would pull several GB of CUDA packages), then the package itself.
#   bash install.sh        the package
#   bash install.sh test   the package, editable, with its test tools
set -euo pipefail
cd "$(dirname "$0")"

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
if ! command -v espeak-ng >/dev/null 2>&1; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq espeak-ng >/dev/null
fi
# The web app's tests drive Debian's chromium with Playwright (Playwright's own browser download is not used).
if [ "${1:-}" = "test" ] && [ ! -x /usr/bin/chromium ]; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

if ! python -c "import torch" >/dev/null 2>&1; then
  python -m pip install -q --disable-pip-version-check "torch==2.13.0"
fi
if [ "${1:-}" = "test" ]; then
  python -m pip install -q --disable-pip-version-check -e ".[test]"
else
  python -m pip install -q --disable-pip-version-check .
fi
