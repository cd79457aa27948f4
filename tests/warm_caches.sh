#!/usr/bin/env bash
# make test's background warm-up (issue 17): build the slow, cached-by-recipe artifacts of the Molecule stage while
# the earlier stages (lint, sanity, unit) leave a core idle, at the lowest CPU and I/O priority, in the order the
# scenarios need them: the container base image (the first container scenario), the llama.cpp build and tiny
# model (default's prepare), the VM lane's image (node_vm, ha). Each builder takes its own per-machine lock, so a
# scenario that needs an artifact before it is ready waits for this build instead of starting a second one. A
# failure here fails nothing: the scenario that needs the artifact builds it again and reports the error itself.
# Warm caches: every step finds its artifact and returns in seconds. Log: runs/warm-caches.log.
set -u
cd "$(dirname "$0")/.."
export LLMFLEET_ROOT="$PWD"
renice -n 19 -p $$ >/dev/null 2>&1 || true
ionice -c 3 -p $$ >/dev/null 2>&1 || true
t_all=$(date +%s)
step() {
  local what=$1; shift
  local t0; t0=$(date +%s)
  if "$@" >"runs/warm-caches-$what.log" 2>&1; then r=ready; else r="FAILED (rc $?; runs/warm-caches-$what.log)"; fi
  echo "warm-up $what: $r in $(( $(date +%s) - t0 ))s (at +$(( $(date +%s) - t_all ))s)"
}
lane_inventories() {  # the inventories of one lane of tests/ci_budget.yml
  .venv/bin/python - "$1" <<'PY'
import sys, yaml
for row in yaml.safe_load(open("tests/ci_budget.yml"))["lanes"].get(sys.argv[1], []):
    print("%s molecule/%s/inventory.yml" % (row["scenario"], row["scenario"]))
PY
}
first_container=$(lane_inventories containers | head -n 1)
[ -n "$first_container" ] && step container-image .venv/bin/llmfleet lab images -i "${first_container#* }" --name "${first_container%% *}"
step serving-artifacts bash lab/serving/prepare.sh
lane_inventories vms | while read -r name inv; do
  step "vm-image-$name" .venv/bin/llmfleet lab images -i "$inv" --name "$name"
done
echo "warm-up done in $(( $(date +%s) - t_all ))s"
