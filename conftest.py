"""Root conftest: names available to every docstring example (``--doctest-modules``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(np=np, jnp=jnp, jax=jax)
