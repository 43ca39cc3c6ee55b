"""torch.autograd as thin wrappers over JAX's function transformations.

torch records a graph while tensors flow and ``out.backward()`` fills ``x.grad``;
JAX differentiates functions. The mapping:

=====================================  ==============================================
torch                                  jtoolkit.autodiff
=====================================  ==============================================
``out.backward(); x.grad``             ``value, g = backward(fn, x)``
``torch.func.grad(f)(x)``              ``grad(f)(x)`` (also ``value_and_grad``)
``y.retain_grad(); ...; y.grad``       ``retain("y", y)`` inside ``fn``, then
                                       ``intermediate_grads(fn, x).intermediates``
``x.detach()``                         ``detach(x)``
``@torch.no_grad()``                   ``@no_grad`` (outputs carry no gradient)
=====================================  ==============================================

Nothing accumulates: every call returns fresh gradients (torch adds into
``.grad`` until ``zero_grad()``), and there is no ``retain_graph``.
"""

from jtoolkit._src.autodiff.retain import IntermediateGrads, intermediate_grads, retain
from jtoolkit._src.autodiff.stop import detach, no_grad
from jtoolkit._src.autodiff.transforms import (
    backward,
    grad,
    hessian,
    jacobian,
    jvp,
    value_and_grad,
    vjp,
)

__all__ = [
    "IntermediateGrads",
    "backward",
    "detach",
    "grad",
    "hessian",
    "intermediate_grads",
    "jacobian",
    "jvp",
    "no_grad",
    "retain",
    "value_and_grad",
    "vjp",
]
