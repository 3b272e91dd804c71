# syntax=docker/dockerfile:1
# One image for every inferwatch process (exporter, rules engine, notifier):
#   docker build -t inferwatch:0.1.0 .
#   docker run --rm -p 9477:9477 inferwatch:0.1.0 exporter --simulate-gpus 8
# The exporter needs no CUDA in the image: on a GPU node the NVIDIA container runtime injects
# libnvidia-ml.so (NVIDIA_DRIVER_CAPABILITIES=utility), which nvidia-ml-py loads.
# Base pinned to a full version; pin its digest too (python:3.12.8-slim-bookworm@sha256:...)
# where the registry is reachable to look it up.
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/inferwatch
WORKDIR /src
COPY pyproject.toml README.md ./
COPY inferwatch/ inferwatch/
COPY exporter/ exporter/
COPY dashboards/ dashboards/
COPY alert_rules/ alert_rules/
COPY notifier/ notifier/
RUN /opt/inferwatch/bin/pip install --no-compile . \
 && /opt/inferwatch/bin/pip uninstall -y pip \
 && /opt/inferwatch/bin/python -m compileall -q /opt/inferwatch/lib

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="inferwatch" \
      org.opencontainers.image.description="Observability and alerting for LLM inference clusters" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/inferwatch /opt/inferwatch
ENV PATH=/opt/inferwatch/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# Non-root by number, so Kubernetes' runAsNonRoot can check it. The exporter DaemonSet runs as
# this user too; deploy/components/exporter-root documents where the exporter needs root.
USER 65532:65532
# 9477: exporter /metrics; 9478: notifier API; 9479: rules engine /metrics.
EXPOSE 9477 9478 9479
ENTRYPOINT ["inferwatch"]
CMD ["exporter"]
