# Stand-in for redis:7: Debian bookworm's redis-server (7.0) with the official image's conventions
# (data in /data, redis-server and redis-cli on PATH, no config file: settings come as arguments).
# The official image builds redis with protected mode off (it is reached over the container network,
# never published); Debian's default is on, so the entrypoint adds --protected-mode no to redis-server.
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir /data && chown redis:redis /data
RUN printf '#!/bin/sh\nif [ "$1" = redis-server ]; then exec "$@" --protected-mode no; fi\nexec "$@"\n' \
      > /usr/local/bin/standin-entrypoint && chmod 755 /usr/local/bin/standin-entrypoint
WORKDIR /data
USER redis
EXPOSE 6379
ENTRYPOINT ["/usr/local/bin/standin-entrypoint"]
CMD ["redis-server"]
