# A Redis image built from Debian's packages, for machines that reach no image registry
# (`make compose-up` takes this path when Docker Hub does not answer). It behaves as the
# official image does where compose.yaml relies on it: docker-entrypoint.sh, /data, and the
# server run as the unprivileged user its package created.
ARG BASE=sentinel-board/debian:bookworm
FROM ${BASE}
ARG PACKAGES="redis-server redis-tools"
ARG USER=redis
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES} \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir /data && chown "${USER}:${USER}" /data
ENV SERVER_USER=${USER}
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
