# syntax=docker/dockerfile:1
# Production image of the VPP Books bot: compiled JavaScript, production dependencies only, non-root.
#   docker build -t vpp-books-bot .
#   docker run --env-file .env.production -p 8080:8080 vpp-books-bot
# The bot needs MicrosoftAppId and the other production settings (docs/deploy.md): without
# MicrosoftAppId it starts in local mode, whose embedded services are dev-only and not in this image.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bot ./bot
COPY cards ./cards
COPY dialogs ./dialogs
COPY services ./services
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: botbuilder-dialogs' postinstall runs `npx rimraf`, which is a dev dependency and
# would be fetched from the network. The rm below does the same job (drops duplicate copies of
# recognizers-text-number so every recognizer shares one).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@microsoft/recognizers-text-suite/node_modules/@microsoft/recognizers-text-number \
           node_modules/@microsoft/recognizers-text-date-time/node_modules/@microsoft/recognizers-text-number \
           node_modules/@microsoft/recognizers-text-number-with-unit/node_modules/@microsoft/recognizers-text-number \
 && npm cache clean --force
# dist/ holds a copy of package.json (bot/start.ts imports it for the version), so ../package.json
# resolves inside dist/ as well.
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/bot/start.js"]
