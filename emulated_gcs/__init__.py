"""Buckets and objects in a local Cloud Storage emulator, as Pulumi dynamic resources.

The `local` stack keeps its data and output buckets in the GCS emulator that the Vertex AI
emulator embeds (`gcp-storage-emulator`), which the google-cloud-storage client reaches at
the URL the stack config names (`vertex-training:storageEmulatorHost`, the value Google's
client reads from `STORAGE_EMULATOR_HOST`). pulumi-gcp cannot point its buckets at an
emulator, so these small dynamic resources do it:

- `contract`: type tokens and input keys (one home).
- `resources`: `EmulatedBucket`, `EmulatedObject`, what a program registers.
- `providers`: create / read / diff / update / delete, run by Pulumi's dynamic-provider host.

As with `vertex_jobs`, the providers are pickled into state by reference: the module path
`emulated_gcs.providers` and the class names must not move. This file imports nothing.
"""
