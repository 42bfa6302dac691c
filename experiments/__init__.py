"""absl launchers and their ml_collections configs (in `experiments/configs/`)."""
