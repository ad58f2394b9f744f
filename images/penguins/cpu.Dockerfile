# CPU training image. Build context is the app directory, images/penguins/:
#   docker build -f images/penguins/cpu.Dockerfile images/penguins/
# Pinned by digest: Docker Hub re-publishes the tag with every Debian/Python patch. The
# digest (the multi-arch index) was taken from public pins in several independent
# repositories, not read from the registry here: verify it on the first build with
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
# and bump it as images/README.md ("Base image digests") describes.
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# /var/hypertune: where Vertex has cloudml-hypertune write a tuning trial's metrics
# (CLOUD_ML_HP_METRIC_FILE). Only root may create directories under /var
# (GoogleCloudPlatform/cloudml-hypertune#6), so the image creates it for the trainer user.
RUN groupadd --gid 10001 trainer \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin trainer \
    && install -d -o 10001 -g 10001 -m 0755 /var/hypertune

WORKDIR /app

# Layers from least to most often changed. torch is the largest, so it gets its own
# layer: editing requirements.txt does not download it again.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY requirements.txt /tmp/trainer-requirements.txt
RUN pip install --no-cache-dir -r /tmp/trainer-requirements.txt

# Code last: a trainer change rebuilds only this small layer. Root-owned, so the
# training process cannot modify its own code.
COPY trainer /app/trainer

# Numeric, so runtimes that enforce non-root (runAsNonRoot) can verify it.
USER 10001:10001
ENTRYPOINT ["python", "-m", "trainer.task"]
