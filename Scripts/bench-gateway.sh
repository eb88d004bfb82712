#!/usr/bin/env bash
# The gateway's figures beside the in-process ones (Documentation/Performance.md, "The HTTPS gateway"): uploads/s
# and an indexed query's latency through HTTPS, measured with wrk (Debian) against `forgechain gateway run` on a
# fresh one-node folder. Run `forgechain bench records` beside it for the in-process figures.
# Usage: Scripts/bench-gateway.sh [path to a release forgechain] [seconds per run, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.build/release/forgechain}"
seconds="${2:-20}"
dir="$(mktemp -d)"
gateway=""
trap '[ -n "$gateway" ] && kill "$gateway" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
export FORGECHAIN_PASSPHRASE="bench-gateway-passphrase"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 1 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
password="Bench-Gateway-Pass-9"
FORGECHAIN_NEW_PASSWORD="$password" "$bin" admin create root --role super-admin --data "$dir/data" >/dev/null
"$bin" gateway run --folder "$dir/data" --listen 127.0.0.1:0 --cert "$dir/cert.pem" --key "$dir/key.pem" \
    --rate 1000000 --burst 1000000 >"$dir/gateway.log" 2>&1 &
gateway=$!
port=""
for _ in $(seq 1 300); do
    port="$(grep -o '"listen" *: *"[^"]*"' "$dir/gateway.log" 2>/dev/null | grep -o '[0-9]*"$' | tr -d '"' || true)"
    [ -n "$port" ] && break
    sleep 0.2
done
[ -n "$port" ] || { cat "$dir/gateway.log" >&2; exit 1; }
base="https://127.0.0.1:$port"
token="$(curl -s --cacert "$dir/cert.pem" -H 'Content-Type: application/json' \
    -d "{\"user\":\"root\",\"password\":\"$password\"}" "$base/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])')"
echo "== uploads: batches of 100 JSON records, 8 connections"
TOKEN="$token" PER=100 wrk -t2 -c8 -d"${seconds}s" -s Scripts/gateway-upload.lua "$base/v1/records?kind=production"
count="$(curl -s --cacert "$dir/cert.pem" -H "Authorization: Bearer $token" "$base/v1/node/status" | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d.get("height", d))')"
echo "== head after the uploads: $count"
echo "== query: one batch number (about 100 rows after 1,000 uploads) over everything uploaded, 8 connections"
wrk -t2 -c8 -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$base/v1/records?batch_number=B-W7&limit=100" | grep -E "Requests/sec|50%|90%|99%|Non-2xx"
echo "== the same query on one connection (latency without queueing)"
wrk -t1 -c1 -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$base/v1/records?batch_number=B-W7&limit=100" | grep -E "Requests/sec|50%|90%|99%|Non-2xx"
