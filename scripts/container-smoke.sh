#!/usr/bin/env bash
# Builds the repository's real Dockerfile with buildah -- no Docker daemon, no registry, and no
# network during the build -- then smoke-tests the image:
#   image config (user, volume, port, env, healthcheck), server start, bootstrap token,
#   `scimd token create` in the container, SCIM create + read, /metrics, non-root uid,
#   HEALTHCHECK command, clean exit on SIGTERM, restart on the same /data, image size.
#
# How: both base images are local stand-ins built with debootstrap (bookworm, as in the
# Dockerfile defaults) and passed with --build-arg; the builder gets the host's Rust toolchain;
# the crates are vendored into a copy of the context (`cargo vendor`), so the build runs under
# `unshare --net`. Everything lives in a private vfs store in one temp dir, removed at exit.
#
# Usage: scripts/container-smoke.sh [REPO]        (default: the repository holding this script)
# Needs: root; buildah and debootstrap (apt-get install -y buildah debootstrap); git, curl, jq,
#        ss, unshare, tar, and rustup-managed cargo/rustc on PATH; network for debootstrap and
#        for `cargo vendor` (unless the crates are in ~/.cargo already).
# Env:   KEEP=1                 keep the temp dir (store, logs, context) and print its path
#        SMOKE_TMPDIR=DIR       where to make the temp dir (default /var/tmp; ~5 GB at the peak)
#        SMOKE_CACHE_DIR=DIR    cache the two base images there (~350 MB), keyed on the host
#                               toolchain, the package lists and the ISO week; saves ~90 s
#        SMOKE_ARCHIVE=FILE     also write the image as a docker-archive (`docker load -i FILE`)
#        SMOKE_REF=REV          build the source of commit REV (git archive) instead of the
#                               working tree, with the working tree's Dockerfile/.dockerignore
#        DEBIAN_MIRROR=URL      debootstrap mirror (default http://deb.debian.org/debian)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "${1:-$SCRIPT_DIR/..}" && pwd)
IMAGE=localhost/scimd:smoke
CTR=scimd-smoke
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
RT_PKGS=ca-certificates
BT_PKGS=ca-certificates,gcc,libc6-dev,pkg-config
RUST_BASE=localhost/rust:1-bookworm
RUNTIME_BASE=localhost/debian:bookworm-slim
SCIM_BASE=/v1/tenants/default/realms/default/scim/v2

die() { echo "container-smoke: FAIL: $*" >&2; exit 1; }
log() { echo "container-smoke: $*"; }

# ---- prerequisites -----------------------------------------------------------------------
prereqs() {
    local missing=() c
    [ "$(id -u)" = 0 ] || missing+=("root (buildah with chroot isolation and debootstrap need it; run with sudo)")
    for c in buildah debootstrap; do
        command -v "$c" >/dev/null || missing+=("$c (apt-get install -y buildah debootstrap)")
    done
    for c in git curl jq ss unshare tar sha256sum rustup rustc cargo; do
        command -v "$c" >/dev/null || missing+=("$c")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "container-smoke: cannot run; missing:" >&2
        printf '  - %s\n' "${missing[@]}" >&2
        exit 1
    fi
    [ -f "$REPO/Dockerfile" ] || die "no Dockerfile in $REPO"
}
prereqs

W=$(mktemp -d "${SMOKE_TMPDIR:-/var/tmp}/scimd-smoke.XXXXXX")
RUN_PID='' APP_PID='' BG_PID=''
# A private vfs store and chroot isolation: no daemon, no overlayfs, no user namespaces.
export CONTAINERS_STORAGE_CONF=$W/storage.conf BUILDAH_ISOLATION=chroot
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$W" "$W" \
    >"$CONTAINERS_STORAGE_CONF"
mkdir -p "$W/tmp"
export TMPDIR=$W/tmp # buildah writes large blobs to TMPDIR (default /var/tmp) on commit/push

cleanup() {
    local rc=$? m
    trap - EXIT INT TERM
    set +e
    [ -z "$APP_PID" ] || kill -TERM "$APP_PID" 2>/dev/null || true
    if [ -n "$BG_PID" ]; then # the background debootstrap: its own process group
        kill -TERM -- "-$BG_PID" 2>/dev/null || true
        wait "$BG_PID" 2>/dev/null || true
    fi
    if [ -n "$RUN_PID" ]; then
        kill "$RUN_PID" 2>/dev/null || true
        wait "$RUN_PID" 2>/dev/null || true
    fi
    if [ "$rc" != 0 ]; then
        for f in app.err app.out; do
            [ -s "$W/$f" ] && { echo "--- last lines of $f"; tail -n 20 "$W/$f"; }
        done
    fi
    buildah rm --all >/dev/null 2>&1 || true
    if [ "${KEEP:-0}" = 1 ]; then
        log "kept $W (export CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF to use its store)"
    else
        buildah rmi --all --force >/dev/null 2>&1 || true
        # Nothing should be mounted below $W; unmount defensively before deleting.
        for m in $(findmnt -rn -o TARGET | grep -F "$W" | sort -r || true); do umount -l "$m" || true; done
        rm -rf --one-file-system "$W"
        [ ! -e "$W" ] && log "removed $W" || echo "container-smoke: could not remove $W" >&2
    fi
    [ "$rc" = 0 ] && log "PASS" || echo "container-smoke: FAILED (exit $rc)" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

declare -A TIMES=()
PHASES=()
t() { # PHASE -- run a phase function and record its duration
    local s=$SECONDS
    log "== $1"
    "$@"
    TIMES[$1]=$((SECONDS - s))
    PHASES+=("$1")
    log "TIME $1: ${TIMES[$1]}s"
}

# ---- base images -------------------------------------------------------------------------
rootfs() { # DIR PACKAGES -> DIR.tar
    debootstrap --variant=minbase --include="$2" "$SUITE" "$1" "$MIRROR" >"$1.log" 2>&1 ||
        { tail -n 20 "$1.log"; return 1; }
    rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*_* \
        "$1"/usr/share/{doc,man,info,locale}/*
    tar -C "$1" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        -cf "$1.tar" . && rm -rf --one-file-system "$1"
}

make_bases() {
    local c tc tcn rv
    # Two debootstraps in parallel; the background one in its own session, so that cleanup
    # can stop it with its children (background jobs of a script ignore SIGINT).
    export SUITE MIRROR; export -f rootfs
    setsid bash -c 'set -euo pipefail; rootfs "$@"' rootfs "$W/rt" "$RT_PKGS" &
    BG_PID=$!
    rootfs "$W/bt" "$BT_PKGS"
    wait "$BG_PID"
    BG_PID=''

    # Runtime stand-in for debian:bookworm-slim (`buildah add` of a tar keeps owners and setuid).
    c=$(buildah from scratch)
    buildah add -q "$c" "$W/rt.tar" /
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd bash "$c"
    buildah commit -q --rm "$c" "$RUNTIME_BASE" >/dev/null
    rm -f "$W/rt.tar"

    # Builder stand-in for rust:1-bookworm: the host's active toolchain, laid out like the
    # official image (RUSTUP_HOME=/usr/local/rustup, CARGO_HOME=/usr/local/cargo).
    tc=$(rustc --print sysroot)
    tcn=${tc##*/}
    rv=$(rustc --version | cut -d' ' -f2)
    c=$(buildah from scratch)
    buildah add -q "$c" "$W/bt.tar" /
    buildah config \
        --env PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env RUSTUP_HOME=/usr/local/rustup --env CARGO_HOME=/usr/local/cargo \
        --env RUST_VERSION="$rv" --cmd bash "$c"
    printf 'share/doc\nlib/rustlib/src\n' >"$W/tc.ignore" # rust-docs, rust-src: ~800 MB
    buildah copy -q --contextdir "$tc" --ignorefile "$W/tc.ignore" "$c" "$tc" \
        "/usr/local/rustup/toolchains/$tcn"
    buildah copy -q "$c" "$(command -v rustup)" /usr/local/cargo/bin/rustup
    buildah run "$c" -- sh -ec "
        cd /usr/local/cargo/bin
        for t in cargo rustc rustdoc rustfmt cargo-clippy clippy-driver; do ln -s rustup \$t; done
        printf 'version = \"12\"\ndefault_toolchain = \"$tcn\"\n' >/usr/local/rustup/settings.toml
        cd /usr/local/rustup/toolchains
        [ -e $rv-x86_64-unknown-linux-gnu ] || ln -s $tcn $rv-x86_64-unknown-linux-gnu
        cargo -V" >/dev/null
    buildah commit -q --rm "$c" "$RUST_BASE" >/dev/null
    rm -f "$W/bt.tar"
}

bases() {
    local cache=${SMOKE_CACHE_DIR:-} key dir
    if [ -z "$cache" ]; then make_bases; return; fi
    key=$({ rustc -vV; rustup --version 2>/dev/null; echo "$SUITE $MIRROR $RT_PKGS $BT_PKGS"
            date -u +%G-W%V; declare -f rootfs make_bases; } | sha256sum | cut -c1-16)
    dir=$cache/bases-$key
    if [ -f "$dir/rust.tar" ] && [ -f "$dir/debian.tar" ]; then
        log "base images from cache $dir"
        local id
        id=$(buildah pull -q "oci-archive:$dir/rust.tar") && buildah tag "$id" "$RUST_BASE"
        id=$(buildah pull -q "oci-archive:$dir/debian.tar") && buildah tag "$id" "$RUNTIME_BASE"
        return
    fi
    make_bases
    mkdir -p "$cache"
    find "$cache" -mindepth 1 -maxdepth 1 -name 'bases-*' -exec rm -rf {} + # older keys
    mkdir -p "$dir.part"
    buildah push -q "$RUST_BASE" "oci-archive:$dir.part/rust.tar"
    buildah push -q "$RUNTIME_BASE" "oci-archive:$dir.part/debian.tar"
    mv "$dir.part" "$dir"
    log "base images saved to $dir ($(du -sh "$dir" | cut -f1))"
}

# ---- build context -----------------------------------------------------------------------
# A copy of the git-visible files (tracked and untracked-but-not-ignored: the working tree,
# not HEAD; or SMOKE_REF's tree), plus vendored crates and their source replacement. The repository is untouched.
context() {
    local ctx=$W/ctx
    mkdir -p "$ctx/.cargo"
    if [ -n "${SMOKE_REF:-}" ]; then
        # A committed tree, with the working tree's container files on top.
        git -C "$REPO" archive --format=tar "$SMOKE_REF" | tar -C "$ctx" -xf -
        for f in Dockerfile .dockerignore; do
            [ ! -f "$REPO/$f" ] || cp "$REPO/$f" "$ctx/$f"
        done
        log "context from $SMOKE_REF ($(git -C "$REPO" rev-parse --short "$SMOKE_REF")) + working-tree Dockerfile, .dockerignore"
    elif git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$REPO" ls-files -z --cached --others --exclude-standard |
            tar -C "$REPO" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$ctx" -xf -
    else
        tar -C "$REPO" --exclude=./target --exclude=./.git --exclude=./data -cf - . |
            tar -C "$ctx" -xf -
    fi
    if [ -d "$ctx/vendor" ] || grep -qs '^\[source\.crates-io\]' "$ctx/.cargo/config.toml"; then
        log "context already has vendored sources; not vendoring"
    else
        (cd "$ctx" && cargo vendor --locked --versioned-dirs vendor 2>"$W/vendor.log" \
            >>.cargo/config.toml) || { tail -n 20 "$W/vendor.log"; return 1; }
    fi
    log "context $(du -sh "$ctx" | cut -f1), $(find "$ctx/vendor" -mindepth 1 -maxdepth 1 | wc -l) vendored crates"
}

# ---- build -------------------------------------------------------------------------------
build() {
    # --format docker: the OCI format drops HEALTHCHECK. `unshare --net`: with chroot
    # isolation `--network none` is ignored, so this is what proves the build is offline.
    unshare --net buildah bud --format docker --pull=never \
        --build-arg RUST_IMAGE="$RUST_BASE" --build-arg RUNTIME_IMAGE="$RUNTIME_BASE" \
        -f "$W/ctx/Dockerfile" -t "$IMAGE" "$W/ctx" >"$W/build.log" 2>&1 ||
        { tail -n 40 "$W/build.log"; return 1; }
    grep -E 'Finished .release' "$W/build.log" | tail -n 1 | sed 's/^ */container-smoke: cargo: /' || true
}

# ---- image configuration -----------------------------------------------------------------
CFG=
config() {
    CFG=$(buildah inspect --type image "$IMAGE" | jq '.Docker.config')
    check() { jq -e "$1" <<<"$CFG" >/dev/null || die "image config: expected $1; config is $(jq -c . <<<"$CFG")"; }
    check '.User == "10001:10001" or .User == "scimd"'
    check '.Entrypoint == ["/usr/local/bin/scimd"]'
    check '.Cmd == ["serve"]'
    check '.WorkingDir == "/data"'
    check '.Volumes | has("/data")'
    check '.ExposedPorts | has("8080/tcp")'
    check '.Healthcheck.Test == ["CMD", "/usr/local/bin/scimd", "healthcheck"]'
    check '.Env | index("SCIMD_LISTEN=0.0.0.0:8080") != null'
    check '.Env | index("SCIMD_DATABASE_URL=sqlite:///data/scimd.db?mode=rwc") != null'
    check '.Env | index("SCIMD_LOG_FORMAT=json") != null'
    check '.Env | index("SCIMD_METRICS_LISTEN=0.0.0.0:9464") != null'
    check '.ExposedPorts | has("9464/tcp")'
    log "image config ok: user $(jq -r .User <<<"$CFG"), $(jq -c .Entrypoint <<<"$CFG") $(jq -c .Cmd <<<"$CFG"), volume /data, ports 8080 9464, healthcheck"
}

# ---- smoke test --------------------------------------------------------------------------
# `buildah run` shares the host's network: the API and metrics listeners get free loopback
# ports instead of the image's 0.0.0.0:8080 and 0.0.0.0:9464.
PORT='' MPORT='' RUN_ENV=()
free_port() { # [EXCEPT]
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        [ "$p" != "${1:-}" ] || continue
        ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}

# Starts ENTRYPOINT + CMD in the working container (which keeps its /data between runs),
# waits for /readyz, and sets RUN_PID (buildah run) and APP_PID (scimd itself).
start_app() { # OUT ERR
    local ep cmd
    mapfile -t ep < <(jq -r '.Entrypoint[]' <<<"$CFG")
    mapfile -t cmd < <(jq -r '.Cmd // [] | .[]' <<<"$CFG")
    buildah run "${RUN_ENV[@]}" "$CTR" -- "${ep[@]}" "${cmd[@]}" >"$1" 2>"$2" &
    RUN_PID=$!
    for _ in $(seq 300); do
        curl -fso /dev/null "http://127.0.0.1:$PORT/readyz" && break
        kill -0 "$RUN_PID" 2>/dev/null || { cat "$1" "$2"; die "scimd exited before it was ready"; }
        sleep 0.1
    done
    curl -fso /dev/null "http://127.0.0.1:$PORT/readyz" || die "/readyz not 200 after 30 s"
    APP_PID=$(ss -Hltnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
    [ -n "$APP_PID" ] || die "no process listening on port $PORT"
    [ "$(cat "/proc/$APP_PID/comm")" = scimd ] || die "port $PORT is held by $(cat "/proc/$APP_PID/comm"), not scimd"
}

stop_app() { # SIGTERM to scimd itself (a SIGTERM to `buildah run` would SIGKILL it)
    local rc=0
    kill -TERM "$APP_PID"
    for _ in $(seq 200); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$RUN_PID" 2>/dev/null && die "scimd still running 20 s after SIGTERM"
    wait "$RUN_PID" || rc=$?
    RUN_PID='' APP_PID=''
    [ "$rc" = 0 ] || die "scimd exited with status $rc after SIGTERM (expected 0)"
}

# curl METHOD PATH TOKEN [BODY] -> prints "STATUS BODY"; SCIM calls through the realm base.
scim() {
    local args=(-sS -o "$W/resp.json" -w '%{http_code}' -X "$1" "http://127.0.0.1:$PORT$SCIM_BASE$2")
    [ -z "$3" ] || args+=(-H "Authorization: Bearer $3")
    [ -z "${4:-}" ] || args+=(-H 'Content-Type: application/scim+json' --data "$4")
    curl "${args[@]}"
}

expect() { # WHAT EXPECTED ACTUAL
    [ "$2" = "$3" ] || die "$1: expected $2, got $3: $(head -c 400 "$W/resp.json" 2>/dev/null)"
    log "$1 -> $3"
}

UID_SEEN=
smoke() {
    local hc boot secret code id uid gid owner
    PORT=$(free_port) || die "no free port"
    MPORT=$(free_port "$PORT") || die "no free port"
    RUN_ENV=(--env "SCIMD_LISTEN=127.0.0.1:$PORT" --env "SCIMD_METRICS_LISTEN=127.0.0.1:$MPORT")
    mapfile -t hc < <(jq -r '.Healthcheck.Test[1:][]' <<<"$CFG") # CMD form
    buildah from -q --pull=never --name "$CTR" "$IMAGE" >/dev/null

    start_app "$W/app.out" "$W/app.err"
    log "scimd ready on 127.0.0.1:$PORT, metrics on 127.0.0.1:$MPORT (pid $APP_PID)"

    # Non-root: real, effective, saved and filesystem ids.
    uid=$(awk '/^Uid:/{print $2, $3, $4, $5}' "/proc/$APP_PID/status")
    gid=$(awk '/^Gid:/{print $2, $3, $4, $5}' "/proc/$APP_PID/status")
    case " $uid " in *" 0 "*) die "scimd runs as root (Uid: $uid)" ;; esac
    UID_SEEN=${uid%% *}
    log "scimd uid $UID_SEEN gid ${gid%% *} (Uid: $uid; Gid: $gid)"

    # Logs: JSON lines on stderr.
    grep -m1 '"scimd listening"' "$W/app.err" | jq -e . >/dev/null ||
        die "no JSON 'scimd listening' log line on stderr"
    log "logs are JSON"

    # The bootstrap block on stdout: the secret on a line of its own, indented by 4 spaces.
    boot=$(sed -n 's/^    \(scimd_[^[:space:]]*\)$/\1/p' "$W/app.out" | head -n 1)
    [ -n "$boot" ] || die "no bootstrap token on stdout: $(cat "$W/app.out")"
    expect "GET Users without a token" 401 "$(scim GET /Users '')"
    expect "GET Users with the bootstrap token" 200 "$(scim GET /Users "$boot")"

    # A second token from the CLI in the same container (same image env, same /data).
    secret=$(buildah run "${RUN_ENV[@]}" "$CTR" -- \
        /usr/local/bin/scimd token create --tenant default --realm default --name smoke 2>"$W/token.err") ||
        { cat "$W/token.err"; die "scimd token create failed"; }
    [[ $secret == scimd_* && $secret != *$'\n'* ]] || die "token create printed more than the secret: $secret"
    log "token create -> new secret (${#secret} chars)"

    code=$(scim POST /Users "$secret" '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"smoke"}')
    expect "POST Users" 201 "$code"
    id=$(jq -r .id "$W/resp.json")
    [[ -n $id && $id != null ]] || die "POST Users returned no id"
    expect "GET Users/$id" 200 "$(scim GET "/Users/$id" "$secret")"
    [ "$(jq -r .userName "$W/resp.json")" = smoke ] || die "GET returned the wrong user: $(cat "$W/resp.json")"

    # Prometheus metrics on their own listener.
    code=$(curl -sS -o "$W/metrics.txt" -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics") || true
    expect "GET /metrics (metrics listener)" 200 "$code"
    grep -q '^# TYPE ' "$W/metrics.txt" || die "/metrics is not in the Prometheus text format"

    owner=$(buildah run "$CTR" -- stat -c '%n %u:%g %a' /data /data/scimd.db | paste -sd ' ')
    log "in the container: $owner"

    # The image's HEALTHCHECK, run as Docker would (image user and env, plus our port).
    buildah run "${RUN_ENV[@]}" "$CTR" -- "${hc[@]}" >"$W/hc.out" 2>&1 ||
        { cat "$W/hc.out"; die "HEALTHCHECK command failed while scimd is up"; }
    log "healthcheck ($(jq -c '.Healthcheck.Test' <<<"$CFG")) -> exit 0: $(cat "$W/hc.out")"

    stop_app
    grep -q '"scimd stopped"' "$W/app.err" || die "no 'scimd stopped' log line after SIGTERM"
    log "SIGTERM -> exit 0, 'scimd stopped' logged"

    if buildah run "${RUN_ENV[@]}" "$CTR" -- "${hc[@]}" >/dev/null 2>&1; then
        die "HEALTHCHECK command succeeds with scimd stopped"
    fi
    log "healthcheck with scimd stopped -> non-zero"

    # Restart on the same /data: no second bootstrap block, token and user still there.
    start_app "$W/app2.out" "$W/app2.err"
    ! grep -q 'scimd_' "$W/app2.out" || die "second start printed a bootstrap token again"
    expect "after restart: GET Users/$id" 200 "$(scim GET "/Users/$id" "$secret")"
    stop_app
    log "restart on the same /data ok (no second bootstrap token)"
}

# ---- report ------------------------------------------------------------------------------
IMAGE_SIZE='' BIN_SIZE=''
report() {
    IMAGE_SIZE=$(buildah images --format '{{.Size}}' "$IMAGE")
    BIN_SIZE=$(buildah run "$CTR" -- stat -c %s /usr/local/bin/scimd)
    log "image $IMAGE: $IMAGE_SIZE; /usr/local/bin/scimd: $((BIN_SIZE / 1024 / 1024)) MiB ($BIN_SIZE bytes)"
    buildah images --format '  {{.Name}}:{{.Tag}} {{.Size}}'
    if [ -n "${SMOKE_ARCHIVE:-}" ]; then
        buildah push -q "$IMAGE" "docker-archive:$SMOKE_ARCHIVE:scimd:smoke"
        log "docker-archive: $SMOKE_ARCHIVE ($(du -h "$SMOKE_ARCHIVE" | cut -f1)); load with: docker load -i $SMOKE_ARCHIVE"
    fi
    log "temp dir after the build: $(du -sh "$W" | cut -f1) (removed at exit unless KEEP=1)"
}

START=$SECONDS
log "repo $REPO; temp dir $W"
t bases
t context
t build
t config
t smoke
t report
echo
log "SUMMARY"
for p in "${PHASES[@]}"; do printf '  %-8s %4ss\n' "$p" "${TIMES[$p]}"; done
printf '  %-8s %4ss\n' total "$((SECONDS - START))"
echo "  image $IMAGE_SIZE, binary $((BIN_SIZE / 1024 / 1024)) MiB, scimd uid $UID_SEEN"
