#!/usr/bin/env bash
# Builds the DocC documentation of every library target (swift-docc-plugin) and
# fails if the build, DocC or the compiler prints a warning: a broken ``link``,
# a documented parameter that does not exist, an undocumented one in a
# `- Parameters:` list, an unresolved <doc:article>.
#
#   Scripts/check-docs.sh            # all library targets
#   Scripts/check-docs.sh AppAPI     # some of them
#
# The archives land in .build/plugins/Swift-DocC/outputs/<Target>.doccarchive;
# the symbol graphs it extracts are what Scripts/api-summary.sh reads.
#
# The targets are named because `swift package generate-documentation` without
# --target also documents the dependencies (CSV.swift and XMLCoder warn about
# their own doc comments) and the executables (DocC warns about the page the
# plugin writes for a hyphenated executable name such as forgechain-node-probe):
# neither is this project's documentation.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(LedgerCrypto LedgerModel LedgerStorage LedgerConsensus LedgerCore LedgerConformance LedgerCoreTesting Net ChainRuntime AppAPI Contracts Gateway)

args=()
for t in "${TARGETS[@]}"; do args+=(--target "$t"); done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift package generate-documentation "${args[@]}" >"$log" 2>&1 || status=$?
cat "$log"

# SwiftPM's hint about the apt package of a pkg-config system library (printed
# when pkg-config lacks a .pc file it can fall back from) is not about the docs.
# Not ours: a dependency's own package manifest (swift-distributed-tracing, through the gateway's HTTP client)
# leaves a file undeclared.
warnings=$(grep -E 'warning:' "$log" | grep -v 'using your system-packager' | grep -v "'swift-distributed-tracing': found 1 file(s) which are unhandled" || true)
if [ "$status" -ne 0 ]; then
    echo "check-docs: generate-documentation failed (exit $status)" >&2
    exit "$status"
fi
if [ -n "$warnings" ]; then
    echo >&2
    echo "check-docs: $(printf '%s\n' "$warnings" | wc -l) warning(s):" >&2
    printf '%s\n' "$warnings" >&2
    exit 1
fi
echo "check-docs: ${TARGETS[*]}: no warnings"
