# Shared helpers for end-to-end tests. Each test gets a fresh scratch directory $T.
T=$(mktemp -d "${TMPDIR:-/tmp}/rl-e2e.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok"; exit 0; }

# expect_exit CODE CMD...: runs CMD, output in $T/out and $T/err, and checks its exit code.
expect_exit() {
  local want=$1; shift
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "command: $*" >&2; echo "stdout:" >&2; cat "$T/out" >&2; echo "stderr:" >&2; cat "$T/err" >&2
    fail "expected exit $want, got $got"
  fi
}

# expect_grep PATTERN FILE: FILE must contain PATTERN.
expect_grep() { grep -q -- "$1" "$2" || { cat "$2" >&2; fail "'$1' not found in $2"; }; }
