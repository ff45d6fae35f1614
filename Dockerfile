# syntax=docker/dockerfile:1
# jwt-authz image: built from source, run on distroless (no shell, no package manager) as the
# non-root user 65532, the UID the Helm chart's securityContext expects.
#   docker build -t jwt-authz:dev .

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin jwt-authz \
 && install -D -m 0755 target/release/jwt-authz /out/jwt-authz

# glibc-linked Rust binary (pure-Rust crypto, no OpenSSL): distroless/cc has glibc and libgcc.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="jwt-authz" \
      org.opencontainers.image.description="Envoy ext_authz server verifying HMAC JWTs with hot-reloaded keys" \
      org.opencontainers.image.source="https://github.com/jwt-authz/jwt-authz" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/jwt-authz /jwt-authz
USER 65532:65532
EXPOSE 9191 9090
ENTRYPOINT ["/jwt-authz"]
CMD ["serve", "--config", "/etc/jwt-authz/config/config.yaml"]
