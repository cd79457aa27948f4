#!/usr/bin/env bash
# Run make targets as timed stages; print a table of wall times; fail if any stage failed (all stages still run).
set -u
declare -a names times results
failed=0
for stage in "$@"; do
  echo "=================== stage: $stage ==================="
  t0=$(date +%s.%N)
  if make --no-print-directory "$stage"; then r=passed; else r=FAILED; failed=$((failed + 1)); fi
  t1=$(date +%s.%N)
  names+=("$stage"); results+=("$r"); times+=("$(printf '%.1f' "$(echo "$t1 - $t0" | bc)")")
  echo "stage $stage: $r in ${times[-1]}s"
done
echo
printf '%-12s %-8s %10s\n' stage result seconds
total=0
for i in "${!names[@]}"; do
  printf '%-12s %-8s %10s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
  total=$(echo "$total + ${times[$i]}" | bc)
done
printf '%-12s %-8s %10s\n' total "" "$total"
echo "stages: $(( ${#names[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
