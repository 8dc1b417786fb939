# The board's image. compose.yaml builds it on the official Python image; on a machine that
# reaches no registry, `make compose-up` builds it on Debian's Python with the packages
# downloaded beforehand (docker/wheelhouse.Dockerfile), through BASE_IMAGE.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# The server only: no extras (plotting and certificates are not `serve`'s).
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin board

USER board
EXPOSE 8080
# Ready: a master found through the sentinels answers (503 during a failover, 200 after).
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2)"]
CMD ["sentinel-board", "serve", "--host", "0.0.0.0", "--port", "8080"]
