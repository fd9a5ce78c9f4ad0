#!/usr/bin/env bash
# Headless Chromium for the dashboard browser tests (test/browser/).
#
# Usage:
#   scripts/browser.sh ensure    print the path of a Chromium binary, installing Debian's `chromium`
#                                package first when it is missing and we are root on Debian
#   scripts/browser.sh --help
#
# The browser tests drive this binary with playwright-core (which never downloads a browser of its
# own). KARTON_TEST_CHROMIUM overrides the binary; otherwise /usr/bin/chromium is used.
set -euo pipefail

readonly DEFAULT_BINARY=/usr/bin/chromium

die() {
  printf 'browser.sh: %s\n' "$*" >&2
  exit 1
}

usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

cmd_ensure() {
  local binary=${KARTON_TEST_CHROMIUM:-$DEFAULT_BINARY}
  if [[ -x $binary ]]; then
    echo "$binary"
    return 0
  fi
  [[ -n ${KARTON_TEST_CHROMIUM:-} ]] && die "KARTON_TEST_CHROMIUM=$binary is not an executable"
  if [[ $(id -u) -ne 0 || ! -r /etc/debian_version ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "no Chromium at $binary; install it (Debian: apt-get install -y chromium) or set KARTON_TEST_CHROMIUM"
  fi
  printf 'browser.sh: installing chromium with apt-get\n' >&2
  local log rc=0
  log=$(mktemp)
  {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
        --no-install-recommends chromium fonts-dejavu-core
  } >"$log" 2>&1 </dev/null || rc=$?
  if [[ $rc -ne 0 ]]; then
    tail -n 30 "$log" >&2 || true
    rm -f "$log"
    die "apt-get failed (exit $rc)"
  fi
  rm -f "$log"
  [[ -x $binary ]] || die "chromium installed but $binary is missing"
  printf 'browser.sh: installed %s\n' "$("$binary" --version 2>/dev/null || echo chromium)" >&2
  echo "$binary"
}

case ${1:-} in
ensure) cmd_ensure ;;
-h | --help | help) usage ;;
*)
  usage >&2
  exit 2
  ;;
esac
