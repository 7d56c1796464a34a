#!/usr/bin/env bash
# The programs `make test` needs beyond Go and Python: curl and jq (the docs'
# examples run as tests), Chromium (the admin console's browser tests), Node.js
# and npm (Spectral, the OpenAPI linter). A missing one is installed with
# Debian's packages when we run as root with apt-get (as CI does); otherwise we
# stop and say what to install, so that no test is skipped for want of a tool.
set -euo pipefail

# program(s) to look for, then the Debian package that provides them
need=(
  "curl:curl"
  "jq:jq"
  "chromium chromium-browser google-chrome google-chrome-stable:chromium"
  "node:nodejs"
  "npm:npm"
)

missing=()
for entry in "${need[@]}"; do
  programs=${entry%%:*} package=${entry##*:}
  found=
  for p in $programs; do
    if command -v "$p" >/dev/null 2>&1; then found=1; break; fi
  done
  [ -n "$found" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "make test: installing ${missing[*]} with apt-get"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "make test needs ${missing[*]}, which this machine lacks. Install them, then run make test again:" >&2
echo "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
echo "  elsewhere: your system's packages of the same names (Node.js brings npm; any Chromium or Chrome will do)" >&2
exit 1
