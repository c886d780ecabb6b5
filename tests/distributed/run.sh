#!/usr/bin/env bash
# Distributed training tests on this machine's CPU: 2 processes, gloo, 127.0.0.1, free ports, every step time-bounded.
# Launched by torchrun, by Accelerate's notebook_launcher and by `accelerate launch --multi_gpu` (torch's launcher underneath).
# Run from the repository root (or anywhere): tests/distributed/run.sh. Prints a summary; exits 1 if anything failed.
set -u
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg OMP_NUM_THREADS=1
PY=${PYTHON:-python}
DIR=tests/distributed
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/fc_distrib.XXXXXX")
free_port() { $PY -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
torchrun2() { echo "$PY -m torch.distributed.run --nproc_per_node=2 --master-addr=127.0.0.1 --master-port=$(free_port)"; }   # a new free port each call
results=(); failed=0

# step NAME LIMIT EXPECT COMMAND...: EXPECT is 'ok' (exit 0) or 'fail:TEXT' (must exit non-zero, within LIMIT, printing TEXT)
step() {
  local name=$1 limit=$2 expect=$3; shift 3
  local log="$LOGS/$name.log" start=$SECONDS rc verdict
  timeout -k 5 "$limit" "$@" >"$log" 2>&1; rc=$?
  local took=$((SECONDS - start))
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then verdict="FAIL (no result within $limit s: a hang)"
  elif [ "$expect" = ok ]; then
    if [ $rc -eq 0 ]; then verdict="ok"; else verdict="FAIL (exit $rc)"; fi
  else
    if [ $rc -ne 0 ] && grep -qiE -- "${expect#fail:}" "$log"; then verdict="ok (failed as it must, exit $rc)"
    else verdict="FAIL (exit $rc, expected a failure saying '${expect#fail:}')"; fi
  fi
  case $verdict in ok*) ;; *) failed=1; echo "---- $name: last lines of $log"; tail -25 "$log";; esac
  results+=("$(printf '%-28s %4ss  %s' "$name" "$took" "$verdict")")
}

step torchrun_checks      150 ok               $(torchrun2) $DIR/checks.py "$LOGS/torchrun"
step notebook_launcher     90 ok               $PY $DIR/launch_checks.py check_identical_weights,check_same_as_one_process,check_validation_metrics,check_save,check_lr_find
step accelerate_launch     90 ok               $PY -m accelerate.commands.launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no --main_process_port "$(free_port)" $DIR/checks.py "$LOGS/accelerate" check_identical_weights,check_validation_metrics,check_save
step bad_launches          90 ok               $PY $DIR/errors_check.py
step rank_raises           60 "fail:rank 1 fails on purpose"  $(torchrun2) $DIR/fail_check.py raise
step rank_hangs_timeout    60 "fail:timed out waiting|application timeout" $(torchrun2) $DIR/fail_check.py hang

echo "== distributed tests (logs in $LOGS)"
printf '%s\n' "${results[@]}"
if [ $failed -ne 0 ]; then echo "distributed tests: FAILED"; exit 1; fi
echo "distributed tests: all passed"
