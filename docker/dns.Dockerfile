# BIND 9 and NSD from Debian, the same builds the tests run against, for the compose topology's hidden primary and
# secondaries. Each service picks its daemon by its command.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bind9 bind9-dnsutils nsd \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o bind -g bind /var/cache/bind \
 && install -d -o nsd -g nsd /var/lib/nsd
EXPOSE 53/udp 53/tcp
