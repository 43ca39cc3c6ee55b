"""enable_compilation_cache: directory order, opt-out, bad directory, entry points."""

from __future__ import annotations

import os
import warnings

import jax
import jax.numpy as jnp
import optax
import pytest
from flax import nnx
from jax.experimental.compilation_cache import compilation_cache as jax_cache

from jtoolkit._src.core import compilation_cache as cc

# (the test session exports the first three: root conftest.py)
_ENV = (
    "JAX_COMPILATION_CACHE_DIR",
    "JTOOLKIT_COMPILATION_CACHE",
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
    "XDG_CACHE_HOME",
)


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """No cache variables, JAX's cache uninitialised; everything restored after."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    saved = (
        jax.config.jax_compilation_cache_dir,  # pyright: ignore[reportAttributeAccessIssue]
        jax.config.jax_persistent_cache_min_compile_time_secs,  # pyright: ignore[reportAttributeAccessIssue]
    )
    jax.config.update("jax_compilation_cache_dir", None)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    cc._state.clear()
    jax_cache.reset_cache()
    yield tmp_path
    jax.config.update("jax_compilation_cache_dir", saved[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", saved[1])
    cc._state.clear()
    jax_cache.reset_cache()


@pytest.mark.parametrize("source", ["env", "configured", "xdg"])
def test_directory_order(fresh, monkeypatch, source):
    env, configured, xdg = (str(fresh / n) for n in ("env", "configured", "xdg"))
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    if source != "xdg":
        jax.config.update("jax_compilation_cache_dir", configured)
    if source == "env":
        monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", env)
    want = {"env": env, "configured": configured}.get(
        source, os.path.join(xdg, "jtoolkit", "jax")
    )
    assert cc.enable_compilation_cache() == want
    assert jax.config.jax_compilation_cache_dir == want  # pyright: ignore[reportAttributeAccessIssue]
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0  # pyright: ignore[reportAttributeAccessIssue]
    assert os.path.isdir(want)


def test_opt_out_changes_nothing(fresh, monkeypatch):
    monkeypatch.setenv("JTOOLKIT_COMPILATION_CACHE", "0")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(fresh / "unused"))
    assert cc.enable_compilation_cache() is None
    assert jax.config.jax_compilation_cache_dir is None  # pyright: ignore[reportAttributeAccessIssue]
    assert not (fresh / "unused").exists()


def test_unusable_directory_warns_once_and_runs(fresh, monkeypatch):
    blocker = fresh / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(blocker / "jax"))
    with pytest.warns(RuntimeWarning, match="compilation cache is off.*file"):
        assert cc.enable_compilation_cache() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cc.enable_compilation_cache() is None  # idempotent: no second warning
    assert jax.config.jax_compilation_cache_dir is None  # pyright: ignore[reportAttributeAccessIssue]
    assert float(jax.jit(lambda x: x + 1)(jnp.ones(()))) == 2.0


def test_train_and_eval_steps_fill_the_cache(fresh, monkeypatch):
    from jtoolkit._src.train.state import TrainState
    from jtoolkit._src.train.step import make_eval_step, make_train_step

    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(fresh / "cache"))
    model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
    state = TrainState.create(model, optax.sgd(0.1))
    step = make_train_step(lambda m, b: jnp.mean(m(b) ** 2), optax.sgd(0.1))
    evaluate = make_eval_step(lambda m, b: jnp.mean(m(b) ** 2))
    assert jax.config.jax_compilation_cache_dir == str(fresh / "cache")  # pyright: ignore[reportAttributeAccessIssue]
    before = set(os.listdir(fresh / "cache"))
    state, _ = step(state, jnp.ones((2, 3)))
    evaluate(state, jnp.ones((2, 3)))
    assert len(set(os.listdir(fresh / "cache")) - before) >= 2


_BUILD = """
import json
from jax import monitoring

seen = {"compiled": 0, "read": 0}
monitoring.register_event_duration_secs_listener(
    lambda event, secs, **_: seen.__setitem__("compiled", seen["compiled"] + 1)
    if event == "/jax/core/compile/backend_compile_duration" else None
)
monitoring.register_event_listener(
    lambda event, **_: seen.__setitem__("read", seen["read"] + 1)
    if event == "/jax/compilation_cache/cache_hits" else None
)
import jax
from flax import nnx
from jtoolkit import models

model = models.Linear(3, 2, rngs=nnx.Rngs(0))
jax.block_until_ready(nnx.state(model))
print(json.dumps({**seen, "dir": jax.config.jax_compilation_cache_dir}))
"""


def _build_in_fresh_process(tmp_path, **env):
    """Build a model in a new interpreter (the cache is switched on at import)."""
    import json
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in _ENV}
    clean["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    done = subprocess.run(
        [sys.executable, "-c", _BUILD],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_models_caches_a_models_initialisation(tmp_path):
    """``import jtoolkit.models`` switches the cache on, so the programs a model's
    random initialisation compiles (before any training entry point) are stored,
    and a second run reads every one of them back."""
    first = _build_in_fresh_process(tmp_path)
    assert first["dir"] == str(tmp_path / "xdg" / "jtoolkit" / "jax")
    assert first["compiled"] >= 1 and first["read"] == 0
    second = _build_in_fresh_process(tmp_path)
    assert second["read"] == first["compiled"] == second["compiled"]


def test_opting_out_before_the_import_keeps_the_cache_off(tmp_path):
    off = _build_in_fresh_process(tmp_path, JTOOLKIT_COMPILATION_CACHE="0")
    assert off["dir"] is None and off["read"] == 0
    assert not (tmp_path / "xdg").exists()
