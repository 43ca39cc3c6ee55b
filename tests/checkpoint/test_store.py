"""Saves and restores keep no per-call state (the soak in
benchmarks/soak_checkpoint.py measures the RSS; this checks the known causes)."""

import jax
import jax.numpy as jnp

from jtoolkit.checkpoint import restore_checkpoint, save_checkpoint


def _signals():
    from orbax.checkpoint._src.futures import signaling_client

    return len(getattr(signaling_client.get_signaling_client(), "_data", {}))


def test_orbax_signal_keys_do_not_accumulate(tmp_path):
    state = {"w": jnp.ones(3), "key": jax.random.key(0)}
    save_checkpoint(tmp_path, state, 0)
    restore_checkpoint(tmp_path, state)
    before = _signals()
    for step in range(1, 6):
        save_checkpoint(tmp_path, state, step, max_to_keep=2)
        restore_checkpoint(tmp_path, state)
    assert _signals() == before


def test_key_shapes_are_traced_once(tmp_path):
    from jax._src import pjit

    state = {"key": jax.random.key(0)}
    save_checkpoint(tmp_path, state, 0)
    restore_checkpoint(tmp_path, state)
    traced = pjit._infer_params_cached.cache_info().currsize
    for _ in range(5):
        restore_checkpoint(tmp_path, state)
    assert pjit._infer_params_cached.cache_info().currsize == traced
