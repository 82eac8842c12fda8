# Build with dev dependencies, run with production ones only.
FROM node:24.11-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
# The image runs the ingestor only: no benchmark code (bench/ is not copied, so tsc does not see it).
RUN npm run build

FROM node:24.11-bookworm-slim
# /health and /metrics on every interface inside the container (outside it, the default is loopback).
ENV NODE_ENV=production DATA_DIR=/data HTTP_PORT=8099 HTTP_HOST=0.0.0.0
# Two glibc malloc arenas, not one per thread (up to 8 × cores): 4–6 MB less at 2 events/s, no
# CPU cost measured (docs/reliability.md, Memory). No V8 heap flag: a process-wide one overrides
# the encoder threads' own young generation and costs them ~30 % at full speed.
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8099
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8099)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
