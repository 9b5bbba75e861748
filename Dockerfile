# syntax=docker/dockerfile:1
# mqtt-tap: build on the current Node LTS, run with production dependencies only, as a non-root user.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` builds, and the sources are not copied yet.
RUN npm ci --ignore-scripts
COPY . .
# tsc, then esbuild bundles the web view (web/) into dist/ui/; esbuild's binary comes from its
# platform package, so --ignore-scripts above does not matter to it.
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The image's own unprivileged user; 1884 needs no privilege.
USER node
# All interfaces of the container, on purpose: clients come in through the ports Docker publishes,
# and -p decides who can reach it (-p 127.0.0.1:1884:1884 keeps it on the host's loopback).
# Override with -e MQTT_TAP_LISTEN=... or -l. With --upstream-cert, clients must be verified
# (mqtts:// with --tls-request-cert --tls-ca) unless --upstream-cert-for-all is given.
ENV MQTT_TAP_LISTEN=0.0.0.0:1884
# 1884: MQTT; 9464: --metrics, when it is given (e.g. --metrics 0.0.0.0:9464).
EXPOSE 1884 9464
# Pass the broker with -e MQTT_TAP_UPSTREAM=host:1883 (or -u); without one, an embedded aedes
# (MQTT 3.1/3.1.1 only) is started, as no mosquitto is installed in this image.
ENTRYPOINT ["node", "bin/mqtt-tap.js"]
