# coderun/server: the coderun server for student-local mode, running jobs
# with the Docker backend in the coderun/* images of the engine whose socket
# is mounted at /var/run/docker.sock (see compose.yaml).
#
# Built by scripts/images with a context that holds only the server binary
# (`coderun`, from `cargo build --release -p coderun-server`); by hand, copy
# target/release/coderun into an empty directory DIR and run
# `docker build -f docker/server.Dockerfile DIR`.
#
# It runs as root: the engine's socket belongs to root on the host, and
# whoever can use it is root there anyway, so another user here would only
# need the host's docker group id. Student code never runs in this
# container; each job gets a container of its own from the engine.
FROM debian:bookworm-slim
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/coderun"]
CMD ["serve", "--sandbox", "docker", "--listen", "0.0.0.0:8080"]
# Last, so that a new server rebuilds only this layer.
COPY coderun /usr/local/bin/coderun
