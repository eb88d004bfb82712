#!/usr/bin/env bash
# Builds IntegrationTests/Consumer the way a plant team's package uses ForgeChain:
# by version (`from: "0.1.0"`) from a git URL, in debug and in release, and runs it.
# The URL is a clone of this checkout's HEAD, tagged 0.1.0 (its other tags removed),
# so uncommitted changes are not part of the check.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

git clone -q "$root" "$work/ForgeChain"
git -C "$work/ForgeChain" tag -l | xargs -r git -C "$work/ForgeChain" tag -d >/dev/null
git -C "$work/ForgeChain" tag 0.1.0
cp -R "$root/IntegrationTests/Consumer" "$work/Consumer"
rm -rf "$work/Consumer/.build"

cd "$work/Consumer"
export FORGECHAIN_GIT_URL="$work/ForgeChain"
for configuration in debug release; do
    echo "== consumer: swift build -c $configuration (ForgeChain from: 0.1.0)"
    swift build -c "$configuration"
    "$(swift build -c "$configuration" --show-bin-path)/Consumer"
done
