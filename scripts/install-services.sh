#!/usr/bin/env bash
# Install the servers that the distributed-job tests start (redis-server, PostgreSQL) when they are
# missing, from the Debian packages. Quiet, idempotent, and never fails the caller: without root or
# apt-get (or a reachable mirror) it says so once, and those tests skip with the reason.
# Usage: bash scripts/install-services.sh
set -u

have_postgres() {
  command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
have_postgres || missing+=(postgresql)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "Not installing ${missing[*]} (needs root and apt-get); the tests that start them will be skipped." >&2
  exit 0
fi

log="$(mktemp -t install-services.XXXXXX.log)"
# The tests start their own servers on free ports; a default service the packages may start is not used.
install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1
}
if install || { apt-get update -q >>"$log" 2>&1 && install; }; then
  echo "Installed ${missing[*]} for the distributed-job tests."
  rm -f "$log"
else
  echo "Could not install ${missing[*]} (see $log); the tests that start them will be skipped." >&2
fi
exit 0
