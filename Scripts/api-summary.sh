#!/usr/bin/env bash
# The checked-in list of every library product's public API (API/<Module>.txt),
# from the symbol graphs that `swift package generate-documentation` extracts
# (public and open declarations only). CI runs `--check`, so a change to the
# public surface shows up in review and an accidental break fails the build.
#
#   Scripts/api-summary.sh            # regenerate API/*.txt
#   Scripts/api-summary.sh --check    # regenerate into a temp dir, diff, exit 1 on a difference
#
# Set FORGECHAIN_DOCS_BUILT=1 to reuse the symbol graphs of a Scripts/check-docs.sh
# run that just happened instead of running generate-documentation again.
set -euo pipefail
cd "$(dirname "$0")/.."

MODULES=(LedgerCrypto LedgerModel LedgerStorage LedgerConsensus LedgerCore LedgerCoreTesting Net ChainRuntime AppAPI Contracts Gateway)
check=0
[ "${1:-}" = "--check" ] && check=1

if [ "${FORGECHAIN_DOCS_BUILT:-0}" != "1" ]; then
    args=()
    for m in "${MODULES[@]}"; do args+=(--target "$m"); done
    log=$(mktemp)
    if ! swift package generate-documentation "${args[@]}" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; exit 1
    fi
    rm -f "$log"
fi

graphs="$(dirname "$(swift build --show-bin-path)")/extracted-symbols"
if [ "$check" -eq 0 ]; then
    python3 Scripts/api_summary.py "$graphs" API "${MODULES[@]}"
    exit 0
fi

fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
python3 Scripts/api_summary.py "$graphs" "$fresh" "${MODULES[@]}" >/dev/null
if diff -ru API "$fresh" >"$fresh.diff" 2>&1; then
    rm -f "$fresh.diff"
    echo "api-summary: API/*.txt matches the public API of ${MODULES[*]}"
else
    cat "$fresh.diff"; rm -f "$fresh.diff"
    echo "api-summary: the public API differs from API/*.txt (lines with - were removed, + added)." >&2
    echo "If the change is intended, run Scripts/api-summary.sh and commit API/." >&2
    exit 1
fi
