"""Buckets and objects in the local Cloud Storage emulator, as Pulumi resources.

Backed by `emulated_gcs.providers`; inputs are `emulated_gcs.contract`'s. Registered only
by the `local` stack (`components/local_storage.py`).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic

from emulated_gcs.contract import (
    BUCKET_INPUTS,
    BUCKET_OUTPUTS,
    OBJECT_INPUTS,
    OBJECT_OUTPUTS,
    TYPE_MODULE,
)
from emulated_gcs.providers import BucketProvider, ObjectProvider


def _props(args: dict[str, Any], keys: dict[str, str], outputs: dict[str, str]) -> dict:
    unknown = sorted(set(args) - set(keys))
    if unknown:
        raise TypeError(f"unknown argument(s) {unknown}; allowed: {', '.join(keys)}")
    # Every input key present (None where omitted); output keys as None placeholders, so
    # the Python object gets those attributes.
    return {**{key: args.get(key) for key in keys}, **dict.fromkeys(outputs)}


class EmulatedBucket(pulumi.dynamic.Resource, module=TYPE_MODULE, name="Bucket"):
    """A bucket in the storage emulator at `storage_host`."""

    name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **args: Any
    ) -> None:
        props = _props(args, BUCKET_INPUTS, BUCKET_OUTPUTS)
        super().__init__(BucketProvider(), resource_name, props, opts)


class EmulatedObject(pulumi.dynamic.Resource, module=TYPE_MODULE, name="Object"):
    """An object in the storage emulator, uploaded from a file of the project."""

    bucket: pulumi.Output[str]
    name: pulumi.Output[str]
    uri: pulumi.Output[str]

    def __init__(
        self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **args: Any
    ) -> None:
        props = _props(args, OBJECT_INPUTS, OBJECT_OUTPUTS)
        super().__init__(ObjectProvider(), resource_name, props, opts)
