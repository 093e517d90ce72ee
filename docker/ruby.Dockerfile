# coderun/ruby: Debian's Ruby, for the language `ruby`.
#
# Built by scripts/images with a context that holds only the runner binary
# (`coderun-runner`); by hand, copy target/release/coderun-runner into an
# empty directory DIR and run `docker build -f docker/ruby.Dockerfile DIR`.
# Jobs run it with a read-only root, HOME and TMPDIR on /tmp (a noexec
# tmpfs), a tmpfs on /work, no network, uid 1000 and no capabilities.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ruby \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && groupadd --gid 1000 student \
 && useradd --uid 1000 --gid 1000 --home-dir /tmp --no-create-home --shell /bin/sh student \
 && install -d -o 1000 -g 1000 -m 0755 /work
USER 1000:1000
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/coderun-runner"]
# Last, so that a new runner rebuilds only this layer.
COPY coderun-runner /usr/local/bin/coderun-runner
