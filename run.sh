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
                      --config FILE  --preset tiny|demo  -D key=value ...  --run DIR
  bench models [options]
                    build if needed, then measure the speed of teacher, dense, MoE and MoD
                    students (random weights): forward tokens/s, prefill and decode latency,
                    params, FLOPs; writes bench-models.csv/.md to runs/<stamp>-bench-<preset>:
                      --config FILE  --preset tiny|demo  -D key=value ...  --run DIR
                      --repeats N  --batch N  --decode-steps N
  replay --run DIR [--into DIR] [-D key=value ...]
                    train the student stages of run DIR again from its teacher-output cache, with no
                    teacher loaded, into a new run directory (default runs/<stamp>-replay-<preset>)
  cache ls|verify [--run DIR | --dir CACHE]
                    list the cached teacher outputs (teacher, stage, key, parts, rows, bytes,
                    complete), or verify every part's checksum and schema (exit 1 naming a bad part)
  test              restore, build (Release) and run every test project; prints
                    "N passed, N failed, N skipped" and fails if anything failed
  --help            this text ('./run.sh run --help' shows the binary's options)

Planned verbs (not built yet; passed to the binary, which will refuse them until then):
  cluster --teachers N      the same run as a local Akka cluster
  node --role R --seed URI  join an existing cluster from another machine
  bench pipeline|replay|cache  pipeline vs trainer alone, replay vs live, bytes per cached token
USAGE
}

need_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "run.sh: 'dotnet' is not on PATH; install the .NET 10 SDK (https://dot.net)" >&2
    exit 1
  fi
}

# Incremental Release build of the executable; quiet unless it fails.
build_app() {
  need_dotnet
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

run_tests() {
  need_dotnet
  local out passed=0 failed=0 skipped=0 status=0 line f p s
  out=$(mktemp)

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

case "${1:-}" in
  "")               run_app ;;
  -h|--help|help)   usage ;;
  test)             shift; run_tests "$@" ;;
  *)                run_app "$@" ;;
esac
