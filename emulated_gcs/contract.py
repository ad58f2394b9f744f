"""The emulated-storage resources' contract: type tokens and input keys (one home)."""

from __future__ import annotations

# `pulumi.dynamic.Resource` prefixes `pulumi-python:dynamic`; the class keywords add the rest.
TYPE_MODULE = "vtrain/gcs"
BUCKET_TYPE = f"pulumi-python:dynamic/{TYPE_MODULE}:Bucket"
OBJECT_TYPE = f"pulumi-python:dynamic/{TYPE_MODULE}:Object"

BUCKET_INPUTS = {
    "storage_host": "the emulator's URL, http://host:port (what STORAGE_EMULATOR_HOST holds)",
    "project": "the project the bucket is filed under",
    "name": "the bucket name",
    "location": "the bucket's location (the stack's region)",
    "labels": "str -> str",
    "force_destroy": "delete the objects too when the bucket is deleted",
}
OBJECT_INPUTS = {
    "storage_host": "the emulator's URL, http://host:port",
    "bucket": "the bucket name",
    "name": "the object name",
    "source": "the file to upload, relative to the Pulumi project directory",
    "sha256": "the file's SHA-256 when the program ran: a change uploads it again",
    "content_type": "the object's Content-Type",
}
# How the provider reaches the emulator, or what happens on delete: never replaces anything.
BUCKET_CLIENT_SIDE = frozenset({"storage_host", "force_destroy", "labels"})
OBJECT_CLIENT_SIDE = frozenset({"storage_host"})
# Outputs added to the inputs.
BUCKET_OUTPUTS = {"url": "gs://<name>"}
OBJECT_OUTPUTS = {"uri": "gs://<bucket>/<name>"}
