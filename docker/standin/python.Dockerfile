# Stand-in for python:3.11-slim-bookworm: Debian bookworm's python3 is 3.11. `python` and `pip` come from
# python-is-python3 and the venv that the SCALE Dockerfile creates. The host CA bundle replaces Debian's so
# pip verifies TLS through a site proxy; PIP_CERT makes pip (which has its own bundle) use it too.
ARG BASE
FROM ${BASE}
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python-is-python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt LANG=C.UTF-8
CMD ["python3"]
