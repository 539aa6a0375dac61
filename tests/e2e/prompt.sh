#!/usr/bin/env bash
# On a terminal without --passphrase-file the passphrase is asked for without echo:
# drive the real binary in tmux, type the passphrase, and check it never appears on screen.
set -u
. "$TOP/tests/e2e/lib.sh"
command -v tmux >/dev/null || fail "tmux is required (scripts/install-deps installs it)"
V="$T/vault"
printf 'correct horse battery\n' > "$T/admin"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin"
sock="$T/tmux.sock"
tmux -S "$sock" new-session -d -x 120 -y 30 -s rl \
  "'$BIN' --vault '$V' status --as alice; echo EXIT=\$?; sleep 30"
trap 'tmux -S "$sock" kill-server 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
for _ in $(seq 50); do
  tmux -S "$sock" capture-pane -p -t rl | grep -q "passphrase:" && break
  sleep 0.1
done
# While it waits for the passphrase, no core file can be written (PR_SET_DUMPABLE 0 is set
# in the same place; as root, /proc cannot show it).
pid=$(pgrep -n -f -- "--vault $V status --as alice") || fail "the waiting process was not found"
grep -q "^Max core file size *0 *0" "/proc/$pid/limits" || { cat "/proc/$pid/limits"; fail "core dumps are not disabled"; }
tmux -S "$sock" send-keys -t rl "correct horse battery" Enter
for _ in $(seq 100); do
  tmux -S "$sock" capture-pane -p -t rl > "$T/screen"
  grep -q "EXIT=" "$T/screen" && break
  sleep 0.1
done
grep -q "EXIT=0" "$T/screen" || { cat "$T/screen"; fail "status via the prompt failed"; }
grep -q "operators:" "$T/screen" || { cat "$T/screen"; fail "no status shown"; }
grep -q "correct horse" "$T/screen" && { cat "$T/screen"; fail "the passphrase was echoed"; }
pass
