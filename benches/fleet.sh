#!/usr/bin/env bash
# Fleet benchmark: `pinctl status` and `pinctl check` over 100, 1,000 and
# 10,000 sites, each with a realistic year of history (a dozen
# publications across the header, a TLSA RRset and Android releases, two
# rotations, certificates, offline copies). Prints the best and median of
# 5 wall-clock runs, the growth from 1,000 to 10,000 sites (10.0 =
# linear) and the peak memory of each command at 10,000 sites. Needs a
# release build:
#   cargo build --release && bash benches/fleet.sh
# PINCTL_FLEET_DIR=DIR keeps the generated states in DIR (made once,
# reused by later runs: the 10,000 sites take minutes to copy).
set -euo pipefail
cd "$(dirname "$0")/.."
P=${PINCTL:-$PWD/target/release/pinctl}
[ -x "$P" ] || { echo "build first: cargo build --release" >&2; exit 1; }
if [ -n "${PINCTL_FLEET_DIR:-}" ]; then
  work=$PINCTL_FLEET_DIR; mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
cd "$work"
at() { export PINCTL_NOW=$1; }
if [ ! -f fleet.done ]; then
rm -rf seed fleet100 fleet1000 fleet10000
age-keygen -o id.txt 2>/dev/null
R=$(age-keygen -y id.txt)
export PINCTL_STATE=$work/seed
at 2030-01-01T00:00:00Z
"$P" init seed.example --recipient "$R" >/dev/null
"$P" channel add dns --ttl 3600 >/dev/null
"$P" channel add android --expires-after 90 --include-subdomains >/dev/null
"$P" publish --channel dns >/dev/null
"$P" snippet --channel android > android-1.0.artifact; "$P" publish --channel android --release 1.0 --from android-1.0.artifact >/dev/null
ca() { # sign a CSR with a throwaway CA: $1 key name
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -subj /CN=Bench-CA -days 5000 -addext basicConstraints=critical,CA:TRUE -out ca.pem 2>/dev/null
  openssl x509 -req -in "seed/seed.example/$1.csr.pem" -CA ca.pem -CAkey ca.key -days 5000 \
    -set_serial 7 -out "$1.pem" 2>/dev/null
  cat "$1.pem" ca.pem > "$1-chain.pem"
}
ca primary
"$P" cert add primary-chain.pem >/dev/null
for b in backup1 backup2; do for u in usb1 usb2; do
  mkdir -p $u; "$P" archive copy $b --to $u --location $u >/dev/null
done; done
"$P" publish >/dev/null
day=2
for age in 300 86400 604800 2592000; do
  at 2030-01-$(printf %02d $day)T00:00:00Z; day=$((day+3))
  "$P" policy --enforce --max-age $age >/dev/null; "$P" publish >/dev/null
done
at 2030-03-01T00:00:00Z; "$P" rotate --promote backup1 >/dev/null; "$P" publish >/dev/null
at 2030-03-02T00:00:00Z; "$P" publish >/dev/null
"$P" publish --channel dns >/dev/null; "$P" snippet --channel android > android-2.0.artifact; "$P" publish --channel android --release 2.0 --from android-2.0.artifact >/dev/null
ca backup1; "$P" cert add backup1-chain.pem >/dev/null
at 2030-06-01T00:00:00Z; "$P" rotate --promote backup2 >/dev/null; "$P" publish >/dev/null
at 2030-06-02T00:00:00Z; "$P" publish >/dev/null
"$P" publish --channel dns >/dev/null; "$P" snippet --channel android > android-3.0.artifact; "$P" publish --channel android --release 3.0 --from android-3.0.artifact >/dev/null
at 2030-07-01T00:00:00Z; "$P" policy --max-age 5184000 >/dev/null; "$P" publish >/dev/null
at 2030-08-01T00:00:00Z; "$P" policy --max-age 2592000 >/dev/null; "$P" publish >/dev/null
pubs=$(grep -c -E "^- (mode|channel):" seed/seed.example/site.yaml || true)
make_fleet() { # $1 sites into $2
  mkdir -p "$2"
  for i in $(seq 1 "$1"); do
    d="site$i.example"
    cp -r seed/seed.example "$2/$d"
    sed "s/^domain: seed.example$/domain: $d/" seed/seed.example/site.yaml > "$2/$d/site.yaml"
  done
}
make_fleet 100 fleet100
make_fleet 1000 fleet1000
make_fleet 10000 fleet10000
echo "$pubs" > fleet.done
fi
pubs=$(cat fleet.done)
at 2030-09-01T00:00:00Z
runs() { # 5 wall-clock seconds of "$@", sorted
  for _ in 1 2 3 4 5; do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    echo "$e - $s" | bc -l
  done | sort -n
}
rss() { # peak resident memory of "$@", in MB
  { /usr/bin/time -v "$@" 2>&1 >/dev/null || true; } | awk '/Maximum resident set size/ {printf "%.0f", $6/1024}'
}
echo "each site: $pubs publications (header, dns, android), 2 rotations, 2 certificates, 4 offline copies"
echo "seconds: best (median) of 5 runs; growth of the best from 1,000 to 10,000 sites (10.0 = linear)"
printf "%-28s %16s %16s %16s %8s %12s\n" "command" "100 sites" "1000 sites" "10000 sites" "growth" "peak (10000)"
for cmd in "status --format json" "check"; do
  declare -a best med
  for n in 100 1000 10000; do
    mapfile -t r < <(PINCTL_STATE=$work/fleet$n runs "$P" $cmd)
    best[$n]=${r[0]}; med[$n]=${r[2]}
  done
  mem=$(PINCTL_STATE=$work/fleet10000 rss "$P" $cmd)
  printf "%-28s %6.3fs (%.3fs) %6.3fs (%.3fs) %6.3fs (%.3fs) %7.1fx %9s MB\n" "pinctl $cmd" \
    "${best[100]}" "${med[100]}" "${best[1000]}" "${med[1000]}" "${best[10000]}" "${med[10000]}" \
    "$(echo "${best[10000]} / ${best[1000]}" | bc -l)" "$mem"
done
