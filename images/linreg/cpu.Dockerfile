# The linreg app's image. Build context is the app directory, images/linreg/:
#   docker build -f images/linreg/cpu.Dockerfile images/linreg/
# Same pinned base as the penguins CPU image; verify and bump it as images/README.md
# ("Base image digests") describes:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# /var/hypertune: where Vertex has cloudml-hypertune write a tuning trial's metrics; only
# root may create it (GoogleCloudPlatform/cloudml-hypertune#6).
RUN groupadd --gid 10001 app \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin app \
    && install -d -o 10001 -g 10001 -m 0755 /var/hypertune

WORKDIR /app

COPY requirements.txt /tmp/app-requirements.txt
RUN pip install --no-cache-dir -r /tmp/app-requirements.txt

COPY linreg /app/linreg

USER 10001:10001
ENTRYPOINT ["python", "-m", "linreg.task"]
