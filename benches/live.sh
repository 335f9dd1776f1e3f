#!/usr/bin/env bash
# `pinctl check --live` over 100 endpoints that accept a connection and
# never answer (a loopback listener started here), next to its bounds from
# the same run: one such endpoint alone (the time of the slowest), and the
# sum of 100 of them probed one after another. Needs a release build:
#   cargo build --release && bash benches/live.sh
set -euo pipefail
cd "$(dirname "$0")/.."
P=${PINCTL:-$PWD/target/release/pinctl}
[ -x "$P" ] || { echo "build first: cargo build --release" >&2; exit 1; }
N=${N:-100}
work=$(mktemp -d)
listener=
trap '[ -n "$listener" ] && kill "$listener" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"

# A listener with room for every connection in its backlog that reads
# nothing and answers nothing: each TLS handshake waits for its timeout.
python3 - "$work/port" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1024)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(3600)
EOF
listener=$!
for _ in $(seq 50); do [ -s port ] && break; sleep 0.1; done
PORT=$(cat port)

export PINCTL_NOW=2030-01-01T00:00:00Z PINCTL_PASSPHRASE=bench-passphrase
age-keygen -o id.txt 2>/dev/null
R=$(age-keygen -y id.txt)
timed() { # seconds taken by "$@" (its exit status is the findings')
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || true
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
endpoints() { # --endpoint flags for $1 endpoints
  for i in $(seq "$1"); do printf -- '--endpoint https://e%d.bench.example/ ' "$i"; done
}

export PINCTL_STATE=$work/one
"$P" init one.example --recipient "$R" >/dev/null
# shellcheck disable=SC2046
"$P" policy $(endpoints 1) --connect "127.0.0.1:$PORT" >/dev/null
one=$(timed "$P" check --live)

export PINCTL_STATE=$work/many
"$P" init many.example --recipient "$R" >/dev/null
# shellcheck disable=SC2046
"$P" policy $(endpoints "$N") --connect "127.0.0.1:$PORT" >/dev/null
many=$(timed "$P" check --live)

printf '%-44s %8s\n' "pinctl check --live" seconds
printf '%-44s %8.2f\n' "1 silent endpoint (the slowest one)" "$one"
printf '%-44s %8.2f\n' "$N silent endpoints" "$many"
printf '%-44s %8.2f\n' "$N one after another (bound: $N x 1 endpoint)" \
  "$(awk -v n="$N" -v t="$one" 'BEGIN { print n * t }')"
printf 'ratio to the slowest one: %.2fx\n' "$(awk -v a="$many" -v b="$one" 'BEGIN { print a / b }')"
