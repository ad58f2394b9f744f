"""The stack's configuration: read once, validated before any resource is registered.

- `settings`: the whole stack config (`load_settings`), the one place that reads
  `pulumi.Config`.
- `jobs`: the `vertex-training:jobs` list (training and tuning jobs).
- `catalogue`: facts about Google Cloud and Vertex AI (regions, machine and accelerator
  tables, name/label/KMS patterns, API limits), shared with the job providers.
- `apps`: the training apps in `images/`: each `MLproject` read and checked, their
  flavours and image names (`<app>-<flavour>`), the flags and metrics jobs are checked against.
- `base`: the base model every config section derives from.

Importing a module here has no side effects; this package imports nothing.
"""
