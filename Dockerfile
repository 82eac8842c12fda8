# syntax=docker/dockerfile:1
# One Dockerfile for both images: the compose image (`docker compose build`, context: this folder)
# and the Home Assistant add-on (addon/Dockerfile is this file, byte for byte; the Supervisor
# builds it with addon/ as the context and the arguments of addon/build.yaml). Arguments:
#   BUILD_FROM  the Node image; the Supervisor passes build.yaml's build_from for the device
#   SOURCE      context: the sources of the build context; git: REPOSITORY at tag v$BUILD_VERSION
#   RUN_AS      the user the ingestor runs as: node; root in the add-on, whose /data is root's
# BuildKit builds only the stages the image needs, so the git stage costs the compose build nothing.
ARG BUILD_FROM=node:24.11-bookworm-slim
ARG SOURCE=context

FROM scratch AS source-context
COPY package.json package-lock.json tsconfig.json /src/
COPY src /src/src
COPY workers /src/workers

FROM scratch AS source-git
ARG REPOSITORY
ARG BUILD_VERSION
ADD ${REPOSITORY}.git#v${BUILD_VERSION} /src

FROM source-${SOURCE} AS source

# Build with dev dependencies, run with production ones only.
FROM ${BUILD_FROM} AS build
WORKDIR /app
COPY --from=source /src/package.json /src/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY --from=source /src/tsconfig.json ./
COPY --from=source /src/src ./src
COPY --from=source /src/workers ./workers
# The image runs the ingestor only: no benchmark code (bench/ is not copied, so tsc does not see it).
RUN npm run build

FROM ${BUILD_FROM}
ARG RUN_AS=node
# /health and /metrics on every interface inside the container (outside it, the default is loopback).
ENV NODE_ENV=production DATA_DIR=/data HTTP_PORT=8099 HTTP_HOST=0.0.0.0
# Two glibc malloc arenas, not one per thread (up to 8 × cores): 4–6 MB less at 2 events/s, no
# CPU cost measured (docs/reliability.md, Memory). No V8 heap flag: a process-wide one overrides
# the encoder threads' own young generation and costs them ~30 % at full speed.
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=source /src/package.json /src/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER ${RUN_AS}
VOLUME ["/data"]
EXPOSE 8099
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8099)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
