"""compare runs the jtoolkit side as one compiled program per (model, input shapes):
run eagerly, each op compiled its own program (the arithmetic model's compare
compiled 46, a small ResNet's 240), and a second call on the same shapes compiles
nothing. (Parity of compare's rows: test_graph.py, on the six models.)"""

from __future__ import annotations

from jtoolkit import interop

from ._harness import programs_compiled, six_models


def test_compare_is_one_program_and_a_second_call_compiles_nothing(torch):
    module, x, _ = six_models(torch)["arithmetic"]
    (model, report), converting = programs_compiled(
        lambda: interop.from_torch(module, x)
    )
    assert report.max_abs_diff < 1e-5, str(report)
    # the check forward is one program; building the layers' default weights
    # (before torch's are loaded) compiles a few key-derivation programs
    assert converting <= 8, converting
    for grads in (True, False):
        result, first = programs_compiled(
            lambda g=grads: interop.compare(module, model, x, grads=g)
        )
        assert result.ok, str(result)
        assert 1 <= first <= 2, (grads, first)
        again, second = programs_compiled(
            lambda g=grads: interop.compare(module, model, x, grads=g)
        )
        assert second == 0, (grads, second)
        assert again.as_dict() == result.as_dict()
