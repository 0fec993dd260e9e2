# The Node.js base images/Dockerfile builds on in the one-node cluster (BASE=parley.local/
# node:<version>): the debootstrap Debian image plus the Node.js binary the project runs
# (hack/node.sh) and the user `node` (uid/gid 1000), as in the official node image.
# hack/cluster/images.sh base builds it; the context holds only the `node` binary.
ARG BASE
FROM ${BASE}
COPY node /usr/local/bin/node
RUN groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version
