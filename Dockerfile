# syntax=docker/dockerfile:1
# Build stage: full dependencies, compile TypeScript to dist/.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
RUN npx tsc -b

# Runtime stage: production dependencies and the compiled output only.
FROM node:22-bookworm-slim AS runtime
# One gateway process per core the container may use (cgroup- and affinity-aware), under one supervisor. The
# variable wins over the config file's heimdall.processes; `-e HEIMDALL_PROCESSES=2` picks a count.
# The request log's SQLite file lives in HEIMDALL_DATA_DIR (docs/logs.md): mount a volume there to keep it.
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0 HEIMDALL_PROCESSES=auto HEIMDALL_DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: uWebSockets.js and msgpackr ship their native binaries prebuilt in the packages, and libsql (the
# request log's SQLite) as npm optional dependencies, one per platform, of which npm installs this one's.
# uWebSockets.js ships 24 of them (every OS, CPU and Node ABI, 133 MB); the image keeps the one its node loads.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force \
 && node -e "const fs = require('node:fs'); const dir = 'node_modules/uWebSockets.js/dist/bin'; \
      const keep = 'uws_' + process.platform + '_' + process.arch + '_' + process.versions.modules + '.node'; \
      if (!fs.existsSync(dir + '/' + keep)) throw new Error('uWebSockets.js has no ' + keep); \
      for (const file of fs.readdirSync(dir)) if (file !== keep) fs.rmSync(dir + '/' + file);"
COPY LICENSE ./
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME /app/data
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/workers ./dist/workers
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node itself is PID 1 (not npm), so SIGTERM reaches the supervisor, which drains every process and exits 0.
ENTRYPOINT ["node", "dist/src/main.js"]
