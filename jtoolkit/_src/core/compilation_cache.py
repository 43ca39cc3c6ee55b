"""JAX's persistent compilation cache, switched on once by jtoolkit's entry points.

A training script pays XLA's compile time on every run unless JAX keeps the compiled
programs on disk. ``fit``, ``make_train_step``, ``make_eval_step`` and the demo call
``enable_compilation_cache()``, so the second run of any script compiles nothing it
compiled before. The directory is, in order:

1. ``$JAX_COMPILATION_CACHE_DIR`` when set (JAX's own variable);
2. a ``jax_compilation_cache_dir`` the user already configured (``jax.config``);
3. ``$XDG_CACHE_HOME/jtoolkit/jax``, else ``~/.cache/jtoolkit/jax`` (created with
   mode 0700: the cache is trusted code, see JAX's warning).

``JTOOLKIT_COMPILATION_CACHE=0`` turns it off. The call is idempotent, costs one
dictionary look-up after the first, and never fails the run: a directory that cannot
be created or written gives one warning and no cache.

torch has no counterpart (eager kernels need no compilation).
"""

from __future__ import annotations

import os
import warnings

__all__ = ["cache_directory", "enable_compilation_cache"]

# Programs that compile faster than this are not stored; JAX's default is 1 s,
# which skips most of a small model's programs (each 0.1-0.9 s on CPU).
_MIN_COMPILE_SECS = 0.0
_state: dict[str, str | None] = {}


def cache_directory() -> str | None:
    """The directory ``enable_compilation_cache`` uses, or None when switched off.

    Returns:
        ``$JAX_COMPILATION_CACHE_DIR``, the configured ``jax_compilation_cache_dir``,
        or the per-user default; None if ``JTOOLKIT_COMPILATION_CACHE=0``.

    Example:
        >>> import os
        >>> os.environ["JTOOLKIT_COMPILATION_CACHE"] = "0"
        >>> print(cache_directory())
        None
        >>> del os.environ["JTOOLKIT_COMPILATION_CACHE"]
    """
    if os.environ.get("JTOOLKIT_COMPILATION_CACHE", "1").strip() == "0":
        return None
    env = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if env:
        return env
    import jax

    configured = jax.config.jax_compilation_cache_dir  # pyright: ignore[reportAttributeAccessIssue]
    if configured:
        return str(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "jtoolkit", "jax")


def _usable(path: str) -> str | None:
    """Why ``path`` cannot hold the cache, or None when it can."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as err:
        return f"cannot create it ({err.strerror or err})"
    if not os.path.isdir(path):
        return "it is not a directory"
    if not os.access(path, os.W_OK | os.X_OK):
        return "it is not writable"
    return None


def enable_compilation_cache() -> str | None:
    """Switch on JAX's persistent compilation cache (once per process).

    Returns:
        The cache directory, or None when the cache is off (opted out, or the
        directory is unusable: then one ``RuntimeWarning`` names it).

    Example:
        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.environ["JAX_COMPILATION_CACHE_DIR"] = d
        ...     _state.clear()  # the doctest's own fresh start
        ...     enable_compilation_cache() == d
        True
        >>> del os.environ["JAX_COMPILATION_CACHE_DIR"]; _state.clear()
    """
    key = "{}|{}".format(
        os.environ.get("JTOOLKIT_COMPILATION_CACHE", ""),
        os.environ.get("JAX_COMPILATION_CACHE_DIR", ""),
    )
    if key in _state:  # the hot path: env unchanged since the last call
        return _state[key]
    path = cache_directory()
    if path is not None:
        why = _usable(path)
        if why is not None:
            warnings.warn(
                f"jtoolkit: JAX's compilation cache is off: {path!r}: {why}; set "
                "JAX_COMPILATION_CACHE_DIR to a writable directory, or "
                "JTOOLKIT_COMPILATION_CACHE=0 to silence this",
                RuntimeWarning,
                stacklevel=2,
            )
            path = None
        else:
            _configure(path)
    _state[key] = path
    return path


def _configure(path: str) -> None:
    """Point JAX at ``path`` and store every program, however quick to compile."""
    import jax

    if jax.config.jax_compilation_cache_dir != path:  # pyright: ignore[reportAttributeAccessIssue]
        jax.config.update("jax_compilation_cache_dir", path)
    default = jax.config.jax_persistent_cache_min_compile_time_secs  # pyright: ignore[reportAttributeAccessIssue]
    user_set = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" in os.environ
    if default == 1.0 and not user_set:  # JAX's default: not the user's choice
        name = "jax_persistent_cache_min_compile_time_secs"
        jax.config.update(name, _MIN_COMPILE_SECS)
