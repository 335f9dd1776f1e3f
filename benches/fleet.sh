#!/usr/bin/env bash
# Fleet benchmark: `pinctl status` and `pinctl check` over 100 and 1,000
# sites, each with a realistic year of history (a dozen publications across
# the header, a TLSA RRset and Android releases, two rotations,
# certificates, offline copies). Prints seconds per run and the
# growth from 100 to 1,000 sites (10.0 = linear). Needs a release build:
#   cargo build --release && bash benches/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
P=${PINCTL:-$PWD/target/release/pinctl}
[ -x "$P" ] || { echo "build first: cargo build --release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
age-keygen -o id.txt 2>/dev/null
R=$(age-keygen -y id.txt)
export PINCTL_STATE=$work/seed
at() { export PINCTL_NOW=$1; }
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
    sed -i "s/^domain: seed.example$/domain: $d/" "$2/$d/site.yaml"
  done
}
make_fleet 100 fleet100
make_fleet 1000 fleet1000
at 2030-09-01T00:00:00Z
best() { # best of 5 wall-clock seconds of "$@"
  local b=999
  for _ in 1 2 3 4 5; do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null || true; e=$(date +%s.%N)
    b=$(echo "$e - $s" | bc -l | awk -v b="$b" '{print ($1<b)?$1:b}')
  done
  echo "$b"
}
echo "each site: $pubs publications (header, dns, android), 2 rotations, 2 certificates, 4 offline copies"
printf "%-28s %10s %10s %10s\n" "command" "100 sites" "1000 sites" "growth"
for cmd in "status --format json" "check"; do
  t1=$(PINCTL_STATE=$work/fleet100 best "$P" $cmd)
  t2=$(PINCTL_STATE=$work/fleet1000 best "$P" $cmd)
  printf "%-28s %9.3fs %9.3fs %9.1fx\n" "pinctl $cmd" "$t1" "$t2" "$(echo "$t2 / $t1" | bc -l)"
done
