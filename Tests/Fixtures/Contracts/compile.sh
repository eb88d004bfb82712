#!/usr/bin/env bash
# Regenerates the committed compiler output next to every .vy file in this folder and in Audit/.
# Needs vyper 0.4.3 on PATH (or VYPER=/path/to/vyper): pip install vyper==0.4.3
set -euo pipefail
cd "$(dirname "$0")"
VYPER="${VYPER:-vyper}"
version="$("$VYPER" --version)"
case "$version" in 0.4.3*) ;; *) echo "expected vyper 0.4.3, found $version" >&2; exit 1 ;; esac
for source in *.vy Audit/*.vy; do
    stem="${source%.vy}"
    "$VYPER" -f abi "$source" >"$stem.abi.json"
    "$VYPER" -f bytecode "$source" | sed 's/^0x//' >"$stem.bin"
    "$VYPER" -f bytecode_runtime "$source" | sed 's/^0x//' >"$stem.bin-runtime"
    # NearSizeLimit's source map would be 500 KB, and its test needs none.
    [ "$stem" = Audit/NearSizeLimit ] || "$VYPER" -f source_map_runtime "$source" >"$stem.srcmap-runtime.json"
done
