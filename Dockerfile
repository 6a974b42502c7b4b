# syntax=docker/dockerfile:1
# The Pathway service image: one image for every process (worker, gateway, codec server, CLI);
# the command chooses which (deploy/compose/compose.yaml, deploy/k8s/). docs/operations.md
# "The container image".
#
# The base image is pinned by tag AND digest: the tag says what it is, the digest makes the
# build reproducible (a re-pushed tag cannot change it). The digest is the multi-platform index
# of python:3.12.11-slim-bookworm as published on Docker Hub; re-resolve it when bumping with
#   docker buildx imagetools inspect python:3.12.11-slim-bookworm --format '{{.Manifest.Digest}}'
# and change both stages together.

# ---- build: a virtual environment with the pinned dependencies and the package -------------
FROM python:3.12.11-slim-bookworm@sha256:519591d6871b7bc437060736b9f7456b8731f1499a57e22e6c285135ae657bf7 AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/pathway
# Dependencies first (their layer is reused while only the code changes), every version from
# constraints.txt, the same pins as the tests.
COPY pyproject.toml constraints.txt README.md ./
COPY pathway/ pathway/
RUN /opt/pathway/bin/pip install --constraint constraints.txt . \
    && /opt/pathway/bin/python -m compileall -q /opt/pathway/lib

# ---- runtime: the virtual environment, no build tools, a user without a shell or home ------
FROM python:3.12.11-slim-bookworm@sha256:519591d6871b7bc437060736b9f7456b8731f1499a57e22e6c285135ae657bf7 AS runtime

# The state directory is /var/lib/pathway (PATHWAY_VAR): a volume (compose) or a persistent
# volume (Kubernetes); the root file system is read-only at run time. Secrets are files under
# /run/secrets (PATHWAY_SECRETS_DIR), never in the image.
RUN groupadd --system --gid 10001 pathway \
    && useradd --system --uid 10001 --gid pathway --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin pathway \
    && install -d -o pathway -g pathway -m 0700 /var/lib/pathway

COPY --from=build /opt/pathway /opt/pathway

ENV PATH=/opt/pathway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATHWAY_VAR=/var/lib/pathway \
    PATHWAY_SECRETS_DIR=/run/secrets \
    PATHWAY_MODE=production

USER 10001:10001
WORKDIR /var/lib/pathway
VOLUME ["/var/lib/pathway"]

# gateway 8080, codec server 8234, worker metrics 9464 (PATHWAY_METRICS_ADDRESS)
EXPOSE 8080 8234 9464

ENTRYPOINT ["pathway"]
CMD ["--help"]
