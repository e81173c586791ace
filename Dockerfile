# syntax=docker/dockerfile:1
# Multi-stage: build the SPA with Node, run the API/worker on slim Python as a non-root user.

FROM node:20-bookworm-slim AS spa
WORKDIR /build/frontend
COPY frontend/package.json frontend/package-lock.json frontend/.npmrc* ./
RUN npm ci --no-audit --no-fund
COPY openapi/ /build/openapi/
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --system --uid 10001 --create-home --home-dir /home/kameng kameng
WORKDIR /app
COPY requirements/base.lock requirements/base.lock
RUN pip install -r requirements/base.lock
COPY pyproject.toml README.md alembic.ini ./
COPY src/ src/
COPY migrations/ migrations/
RUN pip install --no-deps . && rm -rf build
COPY --from=spa /build/frontend/dist /app/spa
ENV KAMENG_ENVIRONMENT=production \
    KAMENG_HOST=0.0.0.0 \
    KAMENG_PORT=8000 \
    KAMENG_SPA_DIR=/app/spa
USER kameng
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
ENTRYPOINT ["kameng"]
CMD ["serve"]
