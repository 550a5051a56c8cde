#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the demo evaluation
# (bundled dataset, simulated models, a private redis-server, 2 local workers).
# Extra arguments go to `reasonsaver run`, e.g. scripts/demo.sh --set dataset.limit=100
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
exec build/reasonsaver run configs/demo.yaml "$@"
