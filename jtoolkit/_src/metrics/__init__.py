"""Metrics as pure, jittable, mergeable states (torchmetrics' numbers)."""
