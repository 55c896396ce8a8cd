# The official MariaDB image with galera-sentinel as its entrypoint.
#
#   make dist
#   docker buildx build --platform linux/amd64,linux/arm64 -t galera-sentinel-mariadb:10.11 .
#
# The sentinel initialises an empty data directory itself (mariadb-install-db)
# when it bootstraps a new cluster, so the image's own entrypoint script is
# not used. See deploy/kubernetes/galera.yaml.
FROM mariadb:10.11
ARG TARGETARCH=amd64
# rsync and lsof for rsync state transfers (the default in deploy/kubernetes).
RUN apt-get update \
 && apt-get install -y --no-install-recommends rsync lsof \
 && rm -rf /var/lib/apt/lists/*
COPY dist/galera-sentinel-linux-${TARGETARCH} /usr/local/bin/galera-sentinel
USER mysql
EXPOSE 3306 4444 4567 4568 9200 9201
ENTRYPOINT ["/usr/local/bin/galera-sentinel", "run"]
