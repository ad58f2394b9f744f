"""A local emulator of Vertex AI's JobService that runs training jobs and tuning trials for real."""
