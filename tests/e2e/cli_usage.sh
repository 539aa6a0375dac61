#!/usr/bin/env bash
# The binary runs, reports its version, and rejects a bad command line with exit 2.
set -u
. "$TOP/tests/e2e/lib.sh"
expect_exit 0 "$BIN" --version
expect_exit 2 "$BIN"
pass
