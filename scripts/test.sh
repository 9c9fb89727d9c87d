#!/usr/bin/env bash
# Runs every test: xunit (engine, parity, hosting, in-process cmdlets) and Pester (the module through the real pwsh).
# Ends with one line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

log=$(mktemp)
# The minimal console logger prints each failed test with its message and stack, and nothing for the passing ones.
dotnet test tests/FifoPipes.Tests --no-build -nologo -v q --logger "console;verbosity=minimal" 2>&1 | tee "$log"
xunit_rc=${PIPESTATUS[0]}
summary=$(grep -E '^(Passed|Failed)!' "$log" | tail -n 1)
num() { echo "$summary" | sed -nE "s/.*$1: +([0-9]+).*/\1/p"; }
xp=$(num Passed); xf=$(num Failed); xs=$(num Skipped)
xp=${xp:-0}; xf=${xf:-0}; xs=${xs:-0}
if [ "$xunit_rc" -ne 0 ] && [ "$xf" -eq 0 ]; then xf=1; fi   # a crash before the summary still counts as a failure

# TorchSharp 0.107's Scalar finalizer race can fail a test that calls libtorch directly while other tests allocate
# (docs/reliability.md; the engine itself repeats such work). When it is the only cause of the failures, those tests
# run once more, and they count as passed only if they pass then.
mapfile -t failures < <(awk -f scripts/scalar-race-failures.awk "$log")
if [ "$xf" -gt 0 ] && [ "${#failures[@]}" -eq "$xf" ] && ! printf '%s\n' "${failures[@]}" | grep -qv '^race '; then
  filter=$(printf '%s\n' "${failures[@]}" | sed 's/^race /FullyQualifiedName=/' | sort -u | paste -sd'|')
  echo "xunit: $xf test(s) failed with TorchSharp's Scalar finalizer race (docs/reliability.md); running them again: $filter"
  if dotnet test tests/FifoPipes.Tests --no-build -nologo -v q --logger "console;verbosity=minimal" --filter "$filter"; then
    echo "xunit: they passed on the second run"
    xp=$((xp + xf)); xf=0; xunit_rc=0
  fi
fi

pester_out=$(mktemp)
dotnet pwsh -NoProfile -NonInteractive -File tests/pester/Invoke-Pester.ps1 -ResultFile "$pester_out"
pester_rc=$?
read -r pp pf ps < "$pester_out" 2>/dev/null || { pp=0; pf=1; ps=0; }
if [ "$pester_rc" -ne 0 ] && [ "${pf:-0}" -eq 0 ]; then pf=1; fi

echo "xunit: $xp passed, $xf failed, $xs skipped; pester: $pp passed, $pf failed, $ps skipped"
echo "$((xp + pp)) passed, $((xf + pf)) failed, $((xs + ps)) skipped"
[ "$((xf + pf))" -eq 0 ]
