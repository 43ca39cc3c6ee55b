"""Export: StableHLO (jax.export), ONNX (jax2onnx) and torch weights."""
