"""vertex-training: one environment's Vertex AI training platform, in one region."""

from config.loader import load_settings
from targets import gcp, local

settings = load_settings()  # raises before any resource exists if the config is bad
(local if settings.target == "local" else gcp).build(settings)
