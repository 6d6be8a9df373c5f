#!/usr/bin/env bash
# Mutation testing of stratic's numeric core with cargo-mutants (https://mutants.rs).
#
# Which files, which tests and the equivalent mutants that are excluded (each with its reason)
# are in .cargo/mutants.toml; TESTING.md records the latest results.
#
# Usage: scripts/mutants.sh [--shard K/N] [--budget SECONDS] [-- CARGO_MUTANTS_ARGS...]
#   --shard K/N      test only the K-th of N round-robin slices of the mutants (K from 0)
#   --budget SECONDS stop after this long; what ran is still judged (the rest is reported
#                    as not reached)
#   everything after -- goes to cargo-mutants (e.g. -F REGEX, --in-place, -j 2, --list)
# Output: mutants.out/ under $MUTANTS_OUT (default target/mutants); caught.txt, missed.txt,
# timeout.txt and unviable.txt list the mutants by outcome.
# Exit status: 0 if no mutant was missed, 2 if one was, 4 if the unmutated tests fail, other
# values for other failures (cargo-mutants' codes).
set -euo pipefail
cd "$(dirname "$0")/.."

shard="" budget=""
while [ $# -gt 0 ]; do
    case "$1" in
        --shard) shard="$2"; shift 2 ;;
        --budget) budget="$2"; shift 2 ;;
        --) shift; break ;;
        *) echo "scripts/mutants.sh: unknown argument $1 (cargo-mutants arguments go after --)" >&2; exit 1 ;;
    esac
done

out="${MUTANTS_OUT:-target/mutants}"
mkdir -p "$out"
args=(mutants --package stratic-core --no-shuffle --output "$out")
# In place there is one tree, so one job (cargo-mutants refuses --jobs with --in-place).
case " $* " in
    *" --in-place "*) ;;
    *) args+=(--jobs "${MUTANTS_JOBS:-1}") ;;
esac
if [ -n "$shard" ]; then
    # Round-robin: each shard samples every file rather than a run of one function.
    args+=(--shard "$shard" --sharding round-robin)
fi
args+=("$@")

# In place, a mutant is written into the source tree while it is tested, and a run stopped
# between writing and restoring it would leave it there. So the sources must be committed
# before, and anything still differing from HEAD afterwards is a leftover mutant, undone.
case " $* " in
    *" --in-place "*)
        if ! git diff --quiet HEAD -- core/src; then
            echo "scripts/mutants.sh: --in-place needs core/src committed (a stopped run is undone with git checkout)" >&2
            exit 1
        fi
        trap 'git diff --quiet HEAD -- core/src || { echo "== undoing a leftover mutant:"; git diff --stat HEAD -- core/src; git checkout HEAD -- core/src; }' EXIT
        ;;
esac

echo "== cargo ${args[*]}${budget:+ (budget ${budget}s)}"
status=0
if [ -n "$budget" ]; then
    # SIGINT, which cargo-mutants handles by stopping cleanly; a second signal 30 s later if
    # it does not.
    timeout --signal=INT --kill-after=30 "$budget" cargo "${args[@]}" || status=$?
else
    cargo "${args[@]}" || status=$?
fi

dir="$out/mutants.out"
count() { if [ -f "$dir/$1" ]; then grep -c . "$dir/$1" || true; else echo 0; fi; }
echo "== caught $(count caught.txt), missed $(count missed.txt), timeout $(count timeout.txt), unviable $(count unviable.txt)"
if [ "$(count missed.txt)" != 0 ]; then
    echo "== missed mutants (add a test that catches each, or, if it is equivalent, an exclude_re entry with its reason in .cargo/mutants.toml):"
    cat "$dir/missed.txt"
    exit 2
fi
case "$status" in
    0) ;;
    # Timeouts: a mutant that makes the tests hang is detected, not missed.
    3) echo "== (some mutants timed out: counted as caught)" ;;
    124|130) echo "== stopped at the budget of ${budget}s; the mutants not reached are for another run" ;;
    *) echo "== cargo-mutants failed with status $status" >&2; exit "$status" ;;
esac
