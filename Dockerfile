# Barter as a container: `barter serve` on port 8080, SQLite and barter.toml in the /data volume.
#
#   docker build -t barter .
#   docker run -d --name barter -p 8080:8080 -v barter-data:/data -e BARTER_API_TOKEN=... barter
#
# Any other command runs the same binary with the same environment, e.g.
#   docker exec barter barter instruments add BTC --source coingecko --source-id bitcoin

# ---- build -----------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
# One plain copy and build, no dependency-caching layer: any source change rebuilds the
# dependencies too (several minutes), but there is nothing to keep in sync with the workspace.
# The bundled sample data (data/sample/) and the migrations are compiled into the binary.
COPY . .
# The release profile keeps line tables (debug = "line-tables-only") for `perf` and for file:line
# in local backtraces: over three quarters of the binary. The image ships without them; the
# symbols stay, so a panic backtrace in the container still names its functions. Sizes and the
# command that reproduces them are in the README's Docker section.
RUN cargo build --release --locked -p barter-cli \
    && strip --strip-debug target/release/barter

# ---- runtime ---------------------------------------------------------------------------------
FROM debian:bookworm-slim

# Root certificates for HTTPS to the data sources (CoinGecko, Binance) and to PostgreSQL over TLS.
# SQLite is compiled into the binary; nothing else is needed at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A non-root user that owns /data. The ownership is set before VOLUME so a new Docker named volume
# starts out owned by it; Fly.io mounts its volumes for the image's user too.
RUN groupadd --system --gid 10001 barter \
    && useradd --system --uid 10001 --gid barter --home-dir /data --no-create-home barter \
    && mkdir /data \
    && chown barter:barter /data

COPY --from=build /src/target/release/barter /usr/local/bin/barter

# The server binds loopback by default; in a container it must listen on every interface.
# The API token (BARTER_API_TOKEN) and other secrets are passed at run time, never baked in.
ENV BARTER_SERVER__BIND=0.0.0.0:8080 \
    BARTER_DATABASE_URL=sqlite:///data/barter.db \
    BARTER_CONFIG=/data/barter.toml

USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8080

# No HEALTHCHECK: the slim image has no curl or wget, and installing one only for this would add
# a package to patch. Platforms probe GET /healthz themselves (fly.toml does; on Kubernetes use an
# httpGet probe).

# SIGINT (Ctrl-C) is also Fly.io's default kill signal, so `docker stop` asks the server to shut
# down the same way everywhere.
STOPSIGNAL SIGINT

# Runs `barter ARGS...`, by default `barter serve`. A named config file must exist, and a new
# volume is empty, so the first `serve` writes the starter file (`barter init`) to $BARTER_CONFIG;
# afterwards edit that file in the volume. `exec` leaves barter as PID 1, receiving the signals.
ENTRYPOINT ["/bin/sh", "-c", "if [ \"$1\" = serve ] && [ ! -e \"$BARTER_CONFIG\" ]; then barter init || exit 1; fi; exec barter \"$@\"", "barter"]
CMD ["serve"]
