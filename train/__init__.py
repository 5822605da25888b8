"""Training package: data loading, damage synthesis, losses and the training loop (next milestone)."""
