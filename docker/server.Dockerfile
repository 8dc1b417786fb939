# A Redis or Valkey image built from Debian's packages, for machines that reach no image
# registry (`make compose-up` takes this path when Docker Hub does not answer). It behaves as
# the official images do where compose.yaml relies on it: docker-entrypoint.sh, /data, and the
# server run as the unprivileged user its package created. Valkey comes from
# bookworm-backports (SUITE), added to apt's sources on the same mirror.
ARG BASE=sentinel-board/debian:bookworm
FROM ${BASE}
ARG PACKAGES="redis-server redis-tools"
ARG USER=redis
ARG SUITE=bookworm
ARG SERVER=redis-server
RUN if [ "$SUITE" != bookworm ]; then \
      sed -n "s/ bookworm / $SUITE /p" /etc/apt/sources.list > "/etc/apt/sources.list.d/$SUITE.list"; \
    fi \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -t "$SUITE" \
        ${PACKAGES} \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir /data && chown "${USER}:${USER}" /data
ENV SERVER_USER=${USER} SERVER=${SERVER}
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
# With no command: the server, as the official images start.
ENTRYPOINT ["docker-entrypoint.sh"]
