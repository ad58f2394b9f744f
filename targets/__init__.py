"""What a stack builds, one module per `vertex-training:target`: `gcp` and `local`."""
