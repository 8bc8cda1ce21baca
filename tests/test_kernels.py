"""The CPU kernels of chapter 05 (`smoothgrad.ttfs_kernels`) on their own: the sub-step count of a free flow, the
bound on it (a clear error instead of a loop without end), and the records the kernels take."""
import inspect
import math

import numpy as np
import pytest

from smoothgrad import ttfs_kernels as tk


def counted_substeps(beta, half):
    "The count the kernels used before: the least n >= 1 with beta <= half * n, by counting up (numba: in float64)."
    n = 1
    while float(beta) > float(half) * n:
        n += 1
    return n


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_substeps_equals_counting_up(dtype):
    rng = np.random.default_rng(18)
    half = dtype(math.pi / 2)
    ks = rng.integers(1, 4000, 300)
    betas = [dtype(b) for b in rng.random(2000) * 4000 * half]
    betas += [dtype(k * half) for k in ks] + [np.nextafter(dtype(k * half), dtype(0)) for k in ks]
    betas += [np.nextafter(dtype(k * half), dtype(np.inf)) for k in ks] + [dtype(1e-30), half, dtype(3.0)]
    for beta in betas:
        assert tk.substeps(beta, half) == counted_substeps(beta, half), (beta, half)


def one_neuron_run(kappa, T=2.0, dtype=np.float64):
    "A 1-1 network with one input at t = 0.3 and angular speed `kappa`, through the CPU backend."
    par = np.array([T, kappa, math.pi, math.pi / 2, 0.0, 1.0, 1.0], dtype)  # ... P_INVB, P_BETA
    flat = tk.FlatParams(np.array([0.5], dtype), np.array([0.4], dtype), np.array([0.9], dtype), par,
                         np.array([[1, 0, 0], [1, 0, 0]]), 1, np.array([0.5], dtype))
    return tk.CPUBackend().run(tk.MODE_FORWARD, np.array([[0.3]], dtype), np.array([0]), np.zeros((1, 1), dtype),
                               flat, tk.workspace_layout((1, 1), 1, 1, 2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_free_flow_beyond_the_dtype_is_a_clear_error(dtype):
    assert one_neuron_run(1.0, dtype=dtype)["flag"][0] == tk.FLAG_OK
    for kappa in (np.inf, 1e7):  # inf: a time scale below the dtype; 1e7 * T: millions of quarter turns
        with pytest.raises(ValueError, match="kappa"):
            one_neuron_run(kappa, dtype=dtype)


def test_kernels_take_records():
    for f in (tk.sample_run, tk.run_samples, tk.sample_outputs, tk.layer_forward, tk.layer_backward):
        assert len(inspect.signature(f.py_func).parameters) <= 8, f
    assert list(tk.Outputs._fields) == list(tk.result_arrays(np.zeros, 2, (3, 2, 1), np.float64))
    assert (tk.MODE_FORWARD, tk.MODE_LOSS_GRAD, tk.MODE_VJP) == (0, 1, 2)
    assert len({tk.FLAG_OK, tk.FLAG_CAPACITY, tk.FLAG_ROTATION}) == 3


def test_per_event_kernels_run_without_reference_counting():
    """The kernels that run per event or per neuron are compiled without numba's runtime (`_nrt=False`: no atomic
    reference counts of their array arguments, chapter 00), the few that allocate with it; a kernel's IR then has no
    `NRT_incref`."""
    import importlib

    gradients, neurons, pseudo, simulate = (importlib.import_module(f"smoothgrad.{m}") for m in
                                            ("gradients", "neurons", "pseudo", "simulate"))  # modules, not functions

    for f in (simulate._flow_all, simulate._flow_to, gradients._flow_vjp, tk.layer_forward, tk.pulse_adjoint,
              tk.lane_sum, neurons.qif_flow_decayed):
        assert f.targetoptions.get("_nrt") is False, f.__name__
    for f in (simulate._sim_core, simulate.simulate_events, gradients.sweep_vjp, pseudo.pseudo_phase_kernel):
        assert f.targetoptions.get("_nrt", True) is True, f.__name__
    f = neurons._jit(lambda a, i: a[i : i + 3].sum())  # a fresh kernel of the same decorator, with a view of an array
    assert f(np.arange(5.0), 1) == 6.0
    assert "NRT_incref" not in next(iter(f.inspect_llvm().values()))


def test_kernels_without_runtime_call_no_allocating_kernel():
    """A kernel compiled without numba's runtime must not call one that allocates: numba would compile the callee
    without the runtime too (flags are inherited unless set), which fails to type `np.zeros` and friends (seen only
    with an empty cache and another compile order: chapter 04 on a generic CPU), or leaks the returned array."""
    import ast
    from pathlib import Path

    info = {}
    for path in sorted(Path(tk.__file__).parent.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.decorator_list:
                decs = {ast.unparse(d).split("(")[0] for d in node.decorator_list}
                calls = {getattr(n.func, "id", getattr(n.func, "attr", None)) for n in ast.walk(node)
                         if isinstance(n, ast.Call)}
                info[node.name] = (path.name, decs, calls)
    without = {k for k, (_, d, _) in info.items() if d & {"_jit", "kernel_jit", "inline_jit"}}
    allocating = {k for k, (_, d, _) in info.items() if d & {"_alloc_jit", "njit"}}
    assert len(without) > 50 and len(allocating) > 10  # the scan sees the kernels
    bad = {k: sorted(info[k][2] & allocating) for k in without if info[k][2] & allocating}
    assert not bad, bad
