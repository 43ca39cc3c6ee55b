"""Tutorial section "Autograd", in jtoolkit.

Run: ``python examples/03_autograd.py`` (CPU, a few seconds).

torch records a graph while tensors with ``requires_grad=True`` flow, and
``out.backward()`` fills ``x.grad``. JAX differentiates *functions*: write the
computation as a function of ``x`` and ask for its gradient. Consequences: there is
no ``requires_grad`` flag (you choose what to differentiate by ``argnums``), no
``.grad`` that accumulates across calls, and no graph to switch off for inference.
"""

import jax
import jax.numpy as jnp

import jtoolkit.autodiff as autodiff
import jtoolkit.tensor_ops as T


def show(label, value, digits=4):
    """Print ``label: value`` rounded as torch prints (4 decimals)."""
    value = jnp.round(jnp.asarray(value, jnp.float32), digits).tolist()
    if isinstance(value, list):
        value = jax.tree.map(lambda v: round(v, digits), value)
    else:
        value = round(value, digits)
    print(f"{label}: {value}")


# torch: x = torch.randn(2, 2, requires_grad=True); print(x)
#        # tensor([[-0.5736, -0.2012], [ 1.3563, 0.5499]], requires_grad=True)
# The tutorial's random draw, written out (torch's and JAX's generators differ).
# It prints x to 4 decimals only; the two entries below carry one more digit so that
# every figure the tutorial prints comes out the same (with the 4-decimal x exactly,
# out is 17.2778 and x.grad[1][0] is the tie 5.03445 -- see the last lines).
x = T.tensor([[-0.5736, -0.2012], [1.35634, 0.54988]])
show("x", x)


# torch: y = x + 2; z = y * y * 3; out = z.mean(); print(out)
#        # tensor(17.2779, grad_fn=<MeanBackward0>)
def f(x):
    y = x + 2
    z = y * y * 3
    return z.mean()


show("out", f(x))

# torch: out.backward(); print(x.grad)
#        # tensor([[2.1396, 2.6982], [5.0345, 3.8248]])
out, x_grad = autodiff.backward(f, x)  # (value, d out / d x)
show("x.grad", x_grad)
# The same with JAX directly: jax.grad(f)(x), or jax.value_and_grad(f)(x)
show("jax.grad(f)(x)", jax.grad(f)(x))

# Gradients do not accumulate: calling twice gives the same gradient (torch would
# give 2 * x.grad after a second backward() without zero_grad()).
_, again = autodiff.backward(f, x)
show("x.grad after a second backward", again)

# torch: y.retain_grad()  -- the gradient of a non-leaf (intermediate) value
#        y = x + 2; y.retain_grad(); ...; out.backward(); y.grad


def f_named(x):
    y = autodiff.retain("y", x + 2)  # name the intermediate
    return (y * y * 3).mean()


out, intermediates, _ = autodiff.intermediate_grads(f_named, x)
show("y.grad", intermediates["y"])  # d out / d y = 6 y / 4 (equals x.grad here)

# --- Turning gradients off ------------------------------------------------------
# torch (method 1): with torch.no_grad(): y = x * 2
# JAX records nothing unless asked, so plain code is already "no_grad":
y = x * 2
show("x * 2 (no graph recorded)", y)


# torch (method 2): @torch.no_grad()
#                   def inference(): y = x * 2; return y
@autodiff.no_grad
def inference(x):
    return x * 2


# no_grad makes the output a constant for any enclosing gradient:
show(
    "grad through no_grad function", jax.grad(lambda x: inference(x).sum() + x.sum())(x)
)


# torch (method 3): print(x.requires_grad)  # True
#                   x.requires_grad_(False); print(x.requires_grad)  # False
# There is no flag: what is differentiated is chosen per call, by argnums.
def g(x, w):
    return jnp.sum(x * w)


w = jnp.array([[1.0, 2.0], [3.0, 4.0]])
show("grad wrt x only (argnums=0)", autodiff.grad(g, argnums=0)(x, w))
show("grad wrt w only (argnums=1)", autodiff.grad(g, argnums=1)(x, w))

# torch: .detach()  -- a tensor cut from the graph
show(
    "grad of x * detach(x)",
    jax.grad(lambda x: jnp.sum(x * autodiff.detach(x)))(x),  # = x, not 2x
)

# The tutorial's x as printed (4 decimals): the same figures up to the last digit.
x4 = T.tensor([[-0.5736, -0.2012], [1.3563, 0.5499]])
out4, grad4 = autodiff.backward(f, x4)
show("out with the 4-decimal x", out4, digits=5)
show("x.grad with the 4-decimal x", grad4, digits=5)
