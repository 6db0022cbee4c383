# syntax=docker/dockerfile:1
#
# Latchkey: one static binary on a distroless base, running as non-root.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t latchkey .
#   docker run -p 8080:8080 \
#     -v $PWD/config:/etc/latchkey \
#     -v latchkey-data:/var/lib/latchkey \
#     -e LATCHKEY_SECRETS_KEY="$(head -c 32 /dev/urandom | base64)" latchkey
#
# /etc/latchkey/latchkey.toml is the configuration (see config.example.toml);
# /var/lib/latchkey is the working directory, so the default
# dsn = "sqlite:latchkey.db" keeps the database in the data volume.

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The build context has no .git, so the version comes from the build.
ARG VERSION=""
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/latchkey ./cmd/latchkey
# Empty directories for the volumes; distroless has no shell to make them.
RUN mkdir -p /out/etc/latchkey /out/var/lib/latchkey

# static-debian12 carries CA certificates and tzdata, which the binary needs
# for outbound TLS (PostgreSQL, push and SMS providers) and nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/latchkey /latchkey
COPY --from=build /out/etc/latchkey /etc/latchkey
# Owned by the nonroot user (65532) so SQLite can write its file, WAL and
# shared-memory index; a new named volume starts with this ownership.
COPY --from=build --chown=65532:65532 /out/var/lib/latchkey /var/lib/latchkey
WORKDIR /var/lib/latchkey
USER 65532:65532
# Inside a container the server must listen on every interface, not on the
# loopback default of config.example.toml. The environment overrides the
# file: to use another port, pass -e LATCHKEY_LISTEN=:PORT.
ENV LATCHKEY_LISTEN=":8080"
EXPOSE 8080
VOLUME ["/etc/latchkey", "/var/lib/latchkey"]
ENTRYPOINT ["/latchkey"]
CMD ["serve", "--config", "/etc/latchkey/latchkey.toml"]
