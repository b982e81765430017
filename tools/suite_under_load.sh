#!/usr/bin/env bash
# Issue 24's acceptance check: the whole suite (what `make test` runs after set-up) with a CPU burner on both cores
# at normal priority, on a snapshot of the committed tree (so edits in progress do not reach it).
#   tools/suite_under_load.sh [LOG]            # snapshot of HEAD in a temporary folder, log to LOG (default suite.log)
#   REPEAT='-k wrong_token' N=10 tools/suite_under_load.sh loop.log   # one selection N times in a row instead
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
log="$(realpath -m "${1:-suite.log}")"
snap="$(mktemp -d)/mind"
git -C "$root" checkout-index --prefix="$snap/" -a
[ -d "$root/../shared" ] && ln -s "$(realpath "$root/../shared")" "$(dirname "$snap")/shared"  # ../shared/data, as beside the checkout
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false NUMBA_CACHE_DIR=$root/.cache/numba MIND_CACHE_DIR=$root/.cache/mind
export PYTHONPATH="$snap"
python3 -c "while 1: pass" & b1=$!
python3 -c "while 1: pass" & b2=$!
trap 'kill $b1 $b2 2>/dev/null' EXIT
cd "$snap"
start=$(date +%s)
if [ -n "${REPEAT:-}" ]; then
  rc=0
  for i in $(seq "${N:-10}"); do
    t=$(date +%s)
    "$root/.venv/bin/python" -m pytest -q -p no:cacheprovider $REPEAT >> "$log" 2>&1
    code=$?
    [ "$code" -eq 0 ] || rc=1
    echo "run $i: rc=$code wall_s=$(( $(date +%s) - t ))" >> "$log"
  done
else
  "$root/.venv/bin/python" -m pytest -q -p no:cacheprovider > "$log" 2>&1
  rc=$?
fi
echo "rc=$rc wall_s=$(( $(date +%s) - start ))" >> "$log"
exit $rc
