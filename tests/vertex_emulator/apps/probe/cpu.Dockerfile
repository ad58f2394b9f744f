# The probe's image, were it built (the emulator runs it from source: contract 3).
FROM python:3.11-slim
WORKDIR /app
COPY probe.py .
ENTRYPOINT ["python", "-m", "probe"]
