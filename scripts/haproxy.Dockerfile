# HAProxy from Debian bookworm, laid out as the official image is
# (docker.io/library/haproxy: the configuration in
# /usr/local/etc/haproxy/haproxy.cfg, run as uid 99), so that the
# in-cluster HAProxy of deploy/kubernetes/replication runs in the e2e suite
# unchanged but for its image. Test use only: production pulls the
# official image.
#
#   scripts/build-image.sh --haproxy OUT.tar [TAG]      # make haproxy-image
ARG BASE=docker.io/library/debian:bookworm-slim
FROM ${BASE}
# policy-rc.d: the package must not start a server during the build.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy \
 && rm -f /usr/sbin/policy-rc.d \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -m 0755 /usr/local/etc/haproxy \
 && haproxy -v
USER 99
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
