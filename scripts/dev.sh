#!/bin/sh
# fcsbe developer entry point: the two commands of the README quick start.
#   sh scripts/dev.sh serve   create .venv, install, migrate (SQLite) and serve on :8000
#   sh scripts/dev.sh test    install the dev tools, run every check and the whole test suite
#   sh scripts/dev.sh demo    run `fcsbe demo` against the server started by `serve`
# Needs only Python 3.11+ (set PYTHON to choose the interpreter).
set -eu
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON=$candidate
      break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "fcsbe needs Python 3.11 or newer" >&2; exit 1; }

VENV=${FCSBE_VENV:-.venv}
install() {
  extras=$1
  stamp="$VENV/.installed-$extras"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when pyproject.toml changed since the last install of these extras.
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[$extras]"
    touch "$stamp"
  fi
}

command=${1:-help}
[ $# -gt 0 ] && shift
case "$command" in
  serve)
    install server
    # A local try-out: callbacks to 127.0.0.1 are allowed so that `fcsbe demo` (and an
    # aggregator on this machine) can receive webhooks. `fcsbe serve` alone keeps the
    # production defaults (public https callbacks only); set these to override.
    export FCSBE_ALLOW_LOOPBACK_CALLBACKS="${FCSBE_ALLOW_LOOPBACK_CALLBACKS:-true}"
    export FCSBE_WEBHOOK_ALLOW_LOOPBACK="${FCSBE_WEBHOOK_ALLOW_LOOPBACK:-true}"
    export FCSBE_WEBHOOK_REQUIRE_HTTPS="${FCSBE_WEBHOOK_REQUIRE_HTTPS:-false}"
    # Simulated meters read every 5 s, so that the demo's FS of a few seconds have data.
    export FCSBE_SIMULATOR_METER_RESOLUTION_S="${FCSBE_SIMULATOR_METER_RESOLUTION_S:-5}"
    exec "$VENV/bin/fcsbe" serve "$@"
    ;;
  demo)
    install server
    exec "$VENV/bin/fcsbe" demo "$@"
    ;;
  test)
    install dev
    B="$VENV/bin"
    # The static checks run beside pytest, on the core that pytest's waits on servers leave
    # idle (mypy alone takes most of a minute on a clean checkout); their reports are printed,
    # and fail the command, at the end.
    checks_log=$(mktemp)
    mypy_log=$(mktemp)
    (
      set -e
      echo "== ruff";          "$B/ruff" check src tests bench alembic
      echo "== ruff format";   "$B/ruff" format --check src tests bench alembic
      echo "== import-linter"; "$B/lint-imports"
      echo "== openapi";       "$B/fcsbe" openapi --check
      echo "== api docs";      "$B/fcsbe" api-docs --check
    ) >"$checks_log" 2>&1 &
    checks_pid=$!
    "$B/mypy" >"$mypy_log" 2>&1 &
    mypy_pid=$!
    trap 'kill "$checks_pid" "$mypy_pid" 2>/dev/null || true; rm -f "$checks_log" "$mypy_log"' EXIT
    echo "== pytest"
    # One worker process per core and one more: a few tests wait on servers in real time,
    # and the extra worker keeps the cores busy meanwhile. FCSBE_TEST_WORKERS sets the
    # count (0 runs in this process, e.g. for pdb); FCSBE_TEST_THOROUGH=1 looks deeper (see
    # docs/conventions.md, Tests).
    workers=${FCSBE_TEST_WORKERS:-$("$B/python" -c 'import os; print((os.cpu_count() or 1) + 1)')}
    pytest_status=0
    "$B/pytest" -n "$workers" "$@" || pytest_status=$?
    checks_status=0
    wait "$checks_pid" || checks_status=$?
    cat "$checks_log"
    echo "== mypy"
    mypy_status=0
    wait "$mypy_pid" || mypy_status=$?
    cat "$mypy_log"
    [ "$pytest_status" -eq 0 ] || exit "$pytest_status"
    [ "$checks_status" -eq 0 ] || exit "$checks_status"
    [ "$mypy_status" -eq 0 ] || exit "$mypy_status"
    ;;
  *)
    echo "usage: sh scripts/dev.sh serve [--host H --port P] | test [pytest args] | demo [--server URL]" >&2
    exit 2
    ;;
esac
