# syntax=docker/dockerfile:1
# topicframe classification service.
#   docker build -t topicframe .                          # the service (default target)
#   docker build -t topicframe-mlflow --target mlflow-server .   # mlflow server + PostgreSQL driver (compose)
# Install steps are the ones ./dev and CI run: the pinned lock file, then the project without dependencies.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The lock first: this layer (the slow one) is rebuilt only when the pins change.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY training/ training/
COPY service/ service/
RUN pip install --no-cache-dir --no-deps .

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TOPICFRAME_WORKERS=1 \
    TOPICFRAME_MODEL_CACHE_DIR=/var/cache/topicframe/models \
    PROMETHEUS_MULTIPROC_DIR=/tmp/topicframe-metrics \
    MLFLOW_LOGGING_LEVEL=WARNING
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --no-log-init --create-home --uid 10001 topicframe \
    && mkdir -p /var/cache/topicframe/models \
    && chown -R topicframe /var/cache/topicframe
USER 10001
WORKDIR /home/topicframe
EXPOSE 8000
# Ready = a model is loaded (503 until then); python because the slim image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
# A fresh metrics directory per start (stale files from a previous run would be added up), then the server.
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec topicframe serve --host 0.0.0.0 --port 8000 --workers \"$TOPICFRAME_WORKERS\""]

# The tracking server for docker-compose: same MLflow as the service; the PostgreSQL driver (psycopg 3)
# is in the lock file, shared with the feedback store.
FROM runtime AS mlflow-server
# No job runner: MLflow's GenAI jobs (scorers, trace roll-ups) are not used, and the runner's processes take
# about 2 GB of memory (`topicframe ui` starts its server the same way).
ENV MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]

# Last stage = what a plain `docker build .` produces: the service.
FROM runtime AS service
