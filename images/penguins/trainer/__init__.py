"""Tabular classification trainer for Vertex AI custom-container jobs.

Entry point: ``python -m trainer.task --help``.
"""
