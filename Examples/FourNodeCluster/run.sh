#!/usr/bin/env bash
# Four ForgeChain nodes as four processes on this machine, linked over mutual TLS on 127.0.0.1.
#
#   Examples/FourNodeCluster/run.sh [FOLDER]      # Ctrl-C stops the four nodes cleanly
#
# Makes a test consortium in FOLDER (default: a new temporary folder) with `forgechain certs`, starts
# `forgechain node run` for each node, prints every node's status once they agree, and waits.
# The keystores are sealed under FORGECHAIN_PASSPHRASE (a one-time one is made when it is unset).
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build --product forgechain >/dev/null
bin="$(swift build --show-bin-path)/forgechain"
folder="${1:-$(mktemp -d)/consortium}"
export FORGECHAIN_PASSPHRASE="${FORGECHAIN_PASSPHRASE:-$(head -c 24 /dev/urandom | base64)}"
consensus="${CONSENSUS:-pbft}"
if [ ! -f "$folder/genesis.block" ]; then
    "$bin" certs --nodes 4 --out "$folder" --base-port "${BASE_PORT:-7400}" --consensus "$consensus" --executors records,access,kv >/dev/null
fi
pids=()
for i in 0 1 2 3; do
    "$bin" node run --config "$folder/node$i/config.json" --log-level notice >"$folder/node$i.out" 2>"$folder/node$i.log" &
    pids+=($!)
done
stop() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; echo "stopped; data in $folder"; }
trap stop INT TERM
for i in 0 1 2 3; do
    for _ in $(seq 1 100); do [ -S "$folder/node$i/data/node.sock" ] && break; sleep 0.1; done
done
sleep 2
for i in 0 1 2 3; do "$bin" node status --connect "$folder/node$i/data/node.sock" | tr -d '\n '; echo; done
echo "four nodes running ($consensus, mutual TLS); logs in $folder/node*.log; Ctrl-C to stop"
wait "${pids[@]}"
