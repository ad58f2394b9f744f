# GPU training image. Build context is the app directory, images/penguins/:
#   docker build -f images/penguins/gpu.Dockerfile images/penguins/
# "base" flavour on purpose: the torch CUDA wheels bring their own CUDA runtime, cuBLAS,
# cuDNN and NCCL as nvidia-* wheels, so a -runtime/-cudnn/-devel base would ship a second
# copy. CUDA 12.6 is the CUDA 12.x build torch 2.13 publishes (see images/README.md).
# Pinned by digest: NVIDIA re-publishes the tag (security rebuilds). The digest (the
# multi-arch index) was taken from public pins in several independent repositories, not
# read from the registry here: verify it on the first build with
#   docker buildx imagetools inspect nvidia/cuda:12.6.3-base-ubuntu24.04
# and bump it as images/README.md ("Base image digests") describes.
FROM nvidia/cuda:12.6.3-base-ubuntu24.04@sha256:c87e78933f4c16e3272123bf2f75537306596d0fbaa395a29696a22786e5ee0e

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Driver requirement (images/README.md, "GPU driver requirement"). The base image sets
# NVIDIA_REQUIRE_CUDA="cuda>=12.6 brand=tesla,driver>=535,driver<536 ...", which the
# NVIDIA container runtime checks before the container starts, plus the cuda-compat
# (forward-compatibility) libcuda that its 470/535/550 exceptions rely on. torch's cu126
# wheels bring their own CUDA 12.6 runtime and run on any CUDA 12.x driver (>= 525)
# through CUDA minor-version compatibility, which needs no compat package. So: require
# what the wheels need, cuda>=12.0, and purge cuda-compat (below) so the host's libcuda is
# the one loaded; the runtime would otherwise put the compat libcuda (560.x) in front on
# every older driver, branches that forward compatibility does not support included.
# NVIDIA_DISABLE_REQUIRE stays unset: a CUDA 11 driver is still refused at start with
# NVIDIA's message, instead of torch finding no usable GPU and training on the CPU.
ENV NVIDIA_REQUIRE_CUDA="cuda>=12.0"

# Ubuntu 24.04's Python 3.12, in a venv because the distro marks its own site-packages
# as externally managed (PEP 668). uid 1000 is taken by the image's "ubuntu" user.
# /var/hypertune: where Vertex has cloudml-hypertune write a tuning trial's metrics
# (CLOUD_ML_HP_METRIC_FILE). Only root may create directories under /var
# (GoogleCloudPlatform/cloudml-hypertune#6), so the image creates it for the trainer user.
RUN apt-get purge -y cuda-compat-12-6 \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3=3.12.* \
        python3-venv=3.12.* \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv \
    && groupadd --gid 10001 trainer \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin trainer \
    && install -d -o 10001 -g 10001 -m 0755 /var/hypertune

WORKDIR /app

# Layers from least to most often changed; torch (with its nvidia-* wheels, several GB)
# gets its own layer so editing requirements.txt does not download it again.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cu126 torch==2.13.0

COPY requirements.txt /tmp/trainer-requirements.txt
RUN pip install --no-cache-dir -r /tmp/trainer-requirements.txt

# Code last: a trainer change rebuilds only this small layer. Root-owned, so the
# training process cannot modify its own code.
COPY trainer /app/trainer

# Numeric, so runtimes that enforce non-root (runAsNonRoot) can verify it.
USER 10001:10001
ENTRYPOINT ["python", "-m", "trainer.task"]
