# Stand-in for nginx:1.27-alpine (the scale-out profile's proxy): Debian bookworm's nginx (1.22) with the
# official image's conventions: the server block comes from /etc/nginx/conf.d/default.conf, logs go to the
# container's stdout/stderr, nginx runs in the foreground. wget is there for the compose healthcheck.
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx wget \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 8080
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
