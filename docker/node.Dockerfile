# coderun/node: Debian's Node.js, for the language `javascript`, and the
# TypeScript compiler, for the language `typescript`.
#
# Built by scripts/images with a context that holds only the runner binary
# (`coderun-runner`); by hand, copy target/release/coderun-runner into an
# empty directory DIR and run `docker build -f docker/node.Dockerfile DIR`.
# Jobs run it with a read-only root, HOME and TMPDIR on /tmp (a noexec
# tmpfs), a tmpfs on /work, no network, uid 1000 and no capabilities.
#
# tsc and the Node.js type definitions come from npm, in a stage of their own
# so that npm and its dependencies stay out of the image. They go where
# `npm install --global --prefix /usr/local` puts them, which is where the
# catalog's typescript build looks for the type definitions on every host.
FROM debian:bookworm-slim AS typescript
# PEM certificates npm should trust besides the system's, for a build host
# whose egress goes through a TLS-intercepting proxy; empty elsewhere.
ARG EXTRA_CA_CERTS=
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && if [ -n "$EXTRA_CA_CERTS" ]; then \
      printf '%s\n' "$EXTRA_CA_CERTS" > /tmp/extra-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; \
    fi \
 && npm install --global --prefix /usr/local --no-audit --no-fund --no-update-notifier \
      typescript@5.9.3 @types/node@18.19.130

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && groupadd --gid 1000 student \
 && useradd --uid 1000 --gid 1000 --home-dir /tmp --no-create-home --shell /bin/sh student \
 && install -d -o 1000 -g 1000 -m 0755 /work
COPY --from=typescript /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/typescript/bin/tsc /usr/local/bin/tsc
USER 1000:1000
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/coderun-runner"]
# Last, so that a new runner rebuilds only this layer.
COPY coderun-runner /usr/local/bin/coderun-runner
