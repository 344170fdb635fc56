#!/usr/bin/env bash
# Runs each of the shim's test modules (recipes/test_*.py) in a process of
# its own, side by side: they mostly wait on AutoPkg starting and on the
# simulator's scaled lag, so the suite takes as long as its longest module
# instead of the sum. Each module's output goes to LOG_DIR/<module>.log and
# is printed in order when all have ended; the exit status is non-zero when
# any module failed. Every test_*.py is run: a new module needs no entry.
set -uo pipefail
log_dir=${1:?usage: run_side_by_side.sh LOG_DIR}
mkdir -p "$log_dir" && log_dir=$(cd "$log_dir" && pwd) || exit 1
cd "$(dirname "$0")/.." || exit 1
modules=()
pids=()
for f in test_*.py; do
	m=${f%.py}
	modules+=("$m")
	python3 -m unittest discover -s . -p "$f" >"$log_dir/$m.log" 2>&1 &
	pids+=($!)
done
failed=()
for i in "${!modules[@]}"; do
	if ! wait "${pids[$i]}"; then
		failed+=("${modules[$i]}")
	fi
done
for m in "${modules[@]}"; do
	echo "--- recipes/$m.py"
	cat "$log_dir/$m.log"
done
if [ ${#failed[@]} -ne 0 ]; then
	echo "shim test modules that failed: ${failed[*]}"
	exit 1
fi
