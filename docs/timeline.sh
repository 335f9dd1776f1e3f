#!/usr/bin/env bash
# Draws docs/timeline.svg: the worked example (max-age 30 days) of
# docs/design.md#a-worked-example, with a TLSA RRset and Android and iOS
# releases alongside the header.
# Run from the repository root after `cargo build --release`.
set -euo pipefail
pinctl=${PINCTL:-$PWD/target/release/pinctl}
out=$PWD/docs/timeline.svg
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
export PINCTL_PASSPHRASE=timeline-example
at() { export PINCTL_NOW=$1; }
at 2030-03-01T00:00:00Z
"$pinctl" init example.com >/dev/null
"$pinctl" channel add dns --ttl 3600 >/dev/null
"$pinctl" channel add android --expires-after 60 --include-subdomains >/dev/null
"$pinctl" channel add ios --horizon 30 >/dev/null
"$pinctl" publish --report-only >/dev/null
"$pinctl" publish --channel dns >/dev/null
at 2030-03-10T00:00:00Z
"$pinctl" policy --enforce --max-age 2592000 >/dev/null
"$pinctl" publish >/dev/null
"$pinctl" snippet --channel android > android-4.0.artifact; "$pinctl" publish --channel android --release 4.0 --from android-4.0.artifact >/dev/null
"$pinctl" snippet --channel ios > ios-3.0.artifact; "$pinctl" publish --channel ios --release 3.0 --from ios-3.0.artifact >/dev/null
at 2030-04-01T00:00:00Z
"$pinctl" rotate --promote backup1 >/dev/null
"$pinctl" publish >/dev/null
"$pinctl" publish --channel dns >/dev/null
at 2030-04-02T00:00:00Z
"$pinctl" publish >/dev/null
"$pinctl" snippet --channel android > android-4.1.artifact; "$pinctl" publish --channel android --release 4.1 --from android-4.1.artifact >/dev/null
"$pinctl" snippet --channel ios > ios-3.1.artifact; "$pinctl" publish --channel ios --release 3.1 --from ios-3.1.artifact >/dev/null
at 2030-04-20T00:00:00Z
"$pinctl" rotate --promote backup2 --compromised >/dev/null
"$pinctl" publish >/dev/null
"$pinctl" publish --channel dns >/dev/null
"$pinctl" timeline --format svg >"$out"
"$pinctl" timeline
