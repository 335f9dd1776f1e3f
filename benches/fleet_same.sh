#!/usr/bin/env bash
# Whether two pinctl binaries print the same thing over a fleet: stdout,
# stderr and exit code of status and check, text and JSON, for the whole
# fleet and for one site. For changes to the fleet's reading and printing
# (README "Performance"):
#   PINCTL_FLEET_DIR=/tmp/fleet bash benches/fleet.sh   # makes the fleets
#   bash benches/fleet_same.sh OLD NEW /tmp/fleet/fleet10000 site42.example
set -uo pipefail
old=$1 new=$2 state=$3 site=${4:-site1.example}
export PINCTL_NOW=2030-09-01T00:00:00Z PINCTL_STATE=$state
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
for args in "status" "status --format json" "check" "check --format json" \
  "check --verbose" "--site $site check" "--site $site check --format json" \
  "--site $site status" "--site $site status --format json"; do
  "$old" $args >"$t/o.out" 2>"$t/o.err"; a=$?
  "$new" $args >"$t/n.out" 2>"$t/n.err"; b=$?
  if [ $a != $b ] || ! cmp -s "$t/o.out" "$t/n.out" || ! cmp -s "$t/o.err" "$t/n.err"; then
    echo "DIFFERENT: pinctl $args (exit $a, $b)"; fail=1
  else
    echo "same: pinctl $args (exit $a, $(wc -c <"$t/o.out") bytes)"
  fi
done
exit $fail
