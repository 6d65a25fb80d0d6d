# scimd container image.
#
#   docker build -t scimd .
#   docker run -p 8080:8080 -v scimd-data:/data scimd
#
# The first start on an empty database prints a bootstrap token ONCE on stdout
# (`docker logs <container>`). More tokens:
#   docker exec <container> scimd token create --tenant default --realm default --name NAME
#
# Both base images can be replaced with --build-arg (e.g. with local or mirrored copies);
# builder and runtime must be the same Debian release, because the binary links its glibc.
# With vendored crates in the context (vendor/ plus a .cargo/config.toml source replacement,
# as `cargo vendor` prints) the build needs no network; otherwise cargo downloads the crates.
# scripts/container-smoke.sh builds this file offline with buildah and smoke-tests the image.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build -------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
# The release profile (Cargo.toml) uses thin LTO. Migrations and JSON schemas are embedded
# in the binary at compile time, so the runtime image needs nothing but the binary.
RUN cargo build --release --locked --bin scimd \
 && install -D -m 0755 target/release/scimd /out/scimd \
 && /out/scimd --version

# ---- runtime -----------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
# ca-certificates for outbound TLS; apt only runs when the base image lacks it, so a base
# that already has it builds offline.
RUN set -eu; \
    if ! dpkg -s ca-certificates >/dev/null 2>&1; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    useradd --uid 10001 --user-group --no-create-home --home-dir /data --shell /usr/sbin/nologin scimd; \
    mkdir -p /data; \
    chown scimd:scimd /data; \
    chmod 0750 /data

COPY --from=builder /out/scimd /usr/local/bin/scimd

# Prometheus /metrics has its own listener (default 127.0.0.1:9464, unreachable from outside
# a container); here it listens on all interfaces of the container, on a port of its own
# that is exposed but not published by default (publish only 8080 to the outside).
ENV SCIMD_LISTEN=0.0.0.0:8080 \
    SCIMD_METRICS_LISTEN=0.0.0.0:9464 \
    SCIMD_DATABASE_URL=sqlite:///data/scimd.db?mode=rwc \
    SCIMD_LOG_FORMAT=json

# SQLite database (when SCIMD_DATABASE_URL points there); also the working directory, so
# an optional config file can be mounted at /data/config/scimd.toml.
VOLUME /data
WORKDIR /data
EXPOSE 8080 9464
# Numeric, so that Kubernetes' runAsNonRoot can verify it; this is the scimd user above.
USER 10001:10001

# `scimd healthcheck` GETs /readyz on SCIMD_LISTEN (0.0.0.0 -> 127.0.0.1); no curl needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/scimd", "healthcheck"]

# scimd exits 0 on SIGTERM after in-flight requests finish (SCIMD_SHUTDOWN_GRACE_SECONDS).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/scimd"]
CMD ["serve"]
