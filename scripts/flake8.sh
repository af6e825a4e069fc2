#!/bin/sh
# Lints the host agent and the lab's Python with flake8 (.flake8 holds the settings). Debian's
# python3-flake8 is a module of the system python3, which may not be the first python3 on PATH.
set -eu
for python in python3 /usr/bin/python3; do
  if "$python" -c 'import flake8' >/dev/null 2>&1; then
    exec "$python" -m flake8 host/agent host/lab "$@"
  fi
done
echo "flake8 is not installed: apt-get install python3-flake8 (scripts/install-system-deps.sh does)" >&2
exit 1
