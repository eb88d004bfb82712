#!/usr/bin/env bash
# Runs the core benchmarks of two release builds of `forgechain` side by side,
# alternating, and prints each JSON line under a header with the load average.
#
#   Scripts/compare-builds.sh OLD_BINARY NEW_BINARY [ROUNDS]
#
# Build the old one from another worktree, e.g.
#   git worktree add --detach ../fc-old <commit> && (cd ../fc-old && swift build -c release --product forgechain)
set -euo pipefail
old="$1"; new="$2"; rounds="${3:-3}"
for round in $(seq 1 "$rounds"); do
    for which in old new; do
        bin="$old"; [ "$which" = new ] && bin="$new"
        echo "## $which round $round load $(cut -d' ' -f1-3 /proc/loadavg)"
        "$bin" bench hash --json
        "$bin" bench merkle --json
        "$bin" bench validate --json
        "$bin" bench tps --json --only node1 | tail -1
        "$bin" bench tps --json --only pbft4 | tail -1
        "$bin" bench append --json | tail -2
    done
done
