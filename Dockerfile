# Switchboard bot image. Stage 1 builds the npm tarball (TypeScript → dist, `npm pack`); stage 2 installs that
# tarball with --omit=dev into an empty folder and runs it as a non-root user with its data on a volume.
# test/packaging/npm-pack.test.ts does these same steps outside a container in CI.
#   docker build -t switchboard .   ·   docker compose up -d   (compose.yaml: the bot with MariaDB)
FROM node:20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 and ssh2's optional cpu-features build native code when no prebuilt binary fits.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm pack --ignore-scripts --pack-destination /pkg && mv /pkg/switchboard-*.tgz /pkg/switchboard.tgz

FROM node:20-bookworm-slim AS install
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/switchboard
COPY --from=build /pkg/switchboard.tgz /tmp/
RUN npm install --omit=dev --no-audit --no-fund /tmp/switchboard.tgz && rm /tmp/switchboard.tgz

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    SWITCHBOARD_DATA_DIR=/data \
    SWITCHBOARD_HTTP_HOST=0.0.0.0 \
    SWITCHBOARD_HTTP_PORT=8080
RUN groupadd --system switchboard && useradd --system --gid switchboard --home-dir /data --shell /usr/sbin/nologin switchboard \
    && mkdir /data && chown switchboard:switchboard /data && chmod 0700 /data
COPY --from=install /opt/switchboard /opt/switchboard
USER switchboard
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SWITCHBOARD_HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/opt/switchboard/node_modules/.bin/switchboard"]
CMD ["start"]
