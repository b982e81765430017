#!/usr/bin/env bash
# Regenerate the cached experiment in the background, resumably, from a clean worktree at a fixed commit, so that
# edits in progress in the checkout never reach a run half-way (issue 22). Rerun the same command to pick up where
# it stopped: finished runs are skipped, an interrupted one resumes from its last checkpoint.
#   tools/regen_cached_runs.sh smollm2:train,analyze,eval multi-teacher:train,analyze,eval
# Environment: COMPUTE_TREE (default: a worktree of HEAD at ../mind-compute), OUT (default regen/out, inside the
# checkout and untracked, so that it survives with the checkout). Logs: $OUT/../<part>.log; failures: failures.log.
set -u
here="$(cd "$(dirname "$0")/.." && pwd)"
tree="${COMPUTE_TREE:-$here/../mind-compute}"
out="${OUT:-$here/regen/out}"
[ -d "$tree" ] || git -C "$here" worktree add -q --detach "$tree" HEAD
mkdir -p "$out"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false NUMBA_CACHE_DIR=$here/.cache/numba MIND_CACHE_DIR=$here/.cache/mind
export PYTHONPATH="$tree"
cd "$tree"
for part in "$@"; do
  nice -n 19 "$here/.venv/bin/python" -m mind experiment cached-runs --out "$out" --parts "${part%%:*}" \
    --stages "${part#*:}" >> "$out/../${part%%:*}.log" 2>&1 || echo "part $part failed: $?" >> "$out/../failures.log"
done
