"""Vertex AI CustomJob and HyperparameterTuningJob as Pulumi dynamic resources.

Neither Terraform nor pulumi-gcp has a resource for Vertex training jobs, so these drive the
Vertex AI v1 JobService through the official GAPIC client. One concern per module:

- `contract`: type tokens, input and output keys, the resource-uid label (shared by the
  resources, the providers, the stack's `jobs` output and the policy pack's copy).
- `resources`: the `pulumi.dynamic.Resource` classes a program registers.
- `providers`: create / read / diff / delete, run by Pulumi's dynamic-provider host.
- `api`: endpoint, client, retry and backoff settings.
- `validation`: the providers' `check`, per input.
- `proto`: proto3-JSON helpers and preview-time unknowns.
- `trials`: tuning-job trial summaries and the best trial.
- `specs`: the stack config's jobs turned into CustomJobSpec / StudySpec (proto3 JSON).

Compatibility promise: the providers are pickled by reference into state, so the module path
`vertex_jobs.providers`, the class names and the type tokens must not move
(`tests/vertex_jobs/test_compatibility.py` pins them). This file imports nothing, so the
dynamic-provider host loads only what a provider needs.
"""
