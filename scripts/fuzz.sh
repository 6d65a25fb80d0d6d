#!/usr/bin/env bash
# scripts/fuzz.sh — builds the cargo-fuzz targets in fuzz/ and runs each for a fixed time.
#
# Each target starts from a fresh temporary copy of its committed seeds (fuzz/corpus/TARGET),
# so a run never writes into the repository; two targets run at a time (the machines have two
# cores). Any crash, panic, timeout or out-of-memory fails the run, naming the target and the
# input that did it (copied to fuzz/artifacts/TARGET/, which git ignores).
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_JOBS      targets run at once (default 2)
#   FUZZ_TARGETS   space-separated subset of targets (default: all five)
#   FUZZ_KEEP=1    keep the temporary working directory (corpora and logs) and print its path
#
# Needs a nightly toolchain (`cargo +nightly`); installs cargo-fuzz (pinned) into ~/.cargo/bin
# when it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-2}
ALL_TARGETS="filter_parser attr_path patch_document resource_validation cursor_token"
read -r -a targets <<<"${FUZZ_TARGETS:-$ALL_TARGETS}"

log() { printf '==> %s\n' "$*"; }
die() { printf 'fuzz: error: %s\n' "$*" >&2; exit 1; }

cargo +nightly --version >/dev/null 2>&1 \
    || die "no nightly toolchain: cargo-fuzz needs one (rustup toolchain install nightly)"
if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi

# Safe Rust all the way down to the parsers, so no sanitizer: it would only halve the
# executions per second and lengthen the build. Panics, stack overflows, timeouts and
# runaway memory are caught by libFuzzer itself. Debug assertions and overflow checks stay on.
# 16 codegen units: the build is most of a CI run's time, and two cores are all there is.
build_start=$SECONDS
log "building fuzz targets (cargo +nightly fuzz build)"
cargo +nightly fuzz build --sanitizer none --debug-assertions --codegen-units 16 \
    || die "the fuzz targets do not build"
log "build took $((SECONDS - build_start)) s"

triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir=fuzz/target/$triple/release
work=$(mktemp -d "${TMPDIR:-/tmp}/scimd-fuzz.XXXXXX")
if [[ ${FUZZ_KEEP:-0} == 1 ]]; then
    trap 'echo "fuzz: working directory kept: $work"' EXIT
else
    trap 'rm -rf "$work"' EXIT
fi

run_target() {
    local t=$1 dir=$work/$1
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp -R "fuzz/corpus/$t/." "$dir/corpus/"
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: 2 GiB is a runaway
    # allocation (two targets run side by side on 24 GiB); -max_len: requests up to 8 KiB
    # (the filter length limit is 4096 characters).
    "$bin_dir/$t" "$dir/corpus" \
        -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -artifact_prefix="$dir/artifacts/" -print_final_stats=1 >"$dir/log" 2>&1
}

report() {
    local t=$1 rc=$2 dir=$work/$1
    local runs secs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$dir/log" | tail -n1)
    local found
    found=$(find "$dir/artifacts" -type f | head -n1)
    if [[ $rc -eq 0 && -z $found ]]; then
        printf 'fuzz: %-20s ok: %s executions in %s s\n' "$t" "${runs:-?}" "${secs:-?}"
        return 0
    fi
    printf '\nfuzz: %s FAILED (exit %s) after %s executions\n' "$t" "$rc" "${runs:-?}" >&2
    grep -E '^(==[0-9]+== ?ERROR|thread .* panicked|SUMMARY|.*deadly signal|.*-timeout|.*out-of-memory)' \
        "$dir/log" | head -n 5 >&2 || true
    tail -n 30 "$dir/log" >&2
    if [[ -n $found ]]; then
        mkdir -p "fuzz/artifacts/$t"
        cp "$found" "fuzz/artifacts/$t/"
        printf 'fuzz: %s: crashing input saved as fuzz/artifacts/%s/%s\n' \
            "$t" "$t" "$(basename "$found")" >&2
        printf 'fuzz: reproduce with: cargo +nightly fuzz run -s none %s fuzz/artifacts/%s/%s\n' \
            "$t" "$t" "$(basename "$found")" >&2
    fi
    return 1
}

log "running ${#targets[@]} targets for $FUZZ_SECONDS s each, $FUZZ_JOBS at a time"
run_start=$SECONDS
declare -A pid_of=()
failed=()
reap() {
    local pid t rc=0
    wait -n -p pid "${!pid_of[@]}" || rc=$?
    t=${pid_of[$pid]}
    unset "pid_of[$pid]"
    report "$t" "$rc" || failed+=("$t")
}
for t in "${targets[@]}"; do
    [[ -x $bin_dir/$t ]] || die "no fuzz target '$t' in fuzz/fuzz_targets"
    [[ -d fuzz/corpus/$t ]] || die "no seed corpus fuzz/corpus/$t"
    while [[ ${#pid_of[@]} -ge $FUZZ_JOBS ]]; do reap; done
    run_target "$t" &
    pid_of[$!]=$t
done
while [[ ${#pid_of[@]} -gt 0 ]]; do reap; done

log "fuzzing took $((SECONDS - run_start)) s, $SECONDS s in all"
if [[ ${#failed[@]} -gt 0 ]]; then
    die "fuzzing found a problem in: ${failed[*]}"
fi
echo "fuzz: ${#targets[@]} passed, 0 failed"
