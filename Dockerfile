# Container image: a static (musl) xks-lint on a minimal Alpine base (a shell, so that CI
# systems running `script:` lines in the image, as GitLab does, can use it).
#   docker build -t xks-lint .
#   docker run --rm -v "$PWD:/work" xks-lint check .
# Build stage: Alpine's Rust links against musl, so the binary is static.
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin xks-lint \
    && cp target/release/xks-lint /xks-lint \
    && /xks-lint --version

# Minimal base: the static binary needs nothing from it (xks-lint runs nothing and fetches
# nothing); it is there for the CI shell.
FROM alpine:3
COPY --from=build /xks-lint /usr/local/bin/xks-lint
WORKDIR /work
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/xks-lint"]
CMD ["check", "."]
