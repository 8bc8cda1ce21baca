"""Issue 18: equivalent inputs in another memory layout or dtype give bit-identical results.

The same numbers as a C-contiguous float64 array, a Fortran-ordered array, a strided or reversed view, a read-only
array, a list, float32 (values that float32 holds exactly) or integer/bool dtypes must give the same bits from
every entry point: `TTFSNetwork.output_times`, `loss_and_grad`, `evaluate`, `predict`, `output_times_vjp`, and
`simulate`/`simulate_batch`. A difference would mean an entry point computes on its inputs before making them
canonical (contiguous, in the arithmetic dtype)."""
import numpy as np
import pytest

from smoothgrad.neurons import LIF, QIF, Theta
from smoothgrad.simulate import simulate, simulate_batch
from smoothgrad.ttfs import TTFSNetwork


def _strided(a):
    "The values of `a` as a non-contiguous view (every other element of a larger array)."
    big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
    big[tuple(slice(None, None, 2) for _ in a.shape)] = a
    v = big[tuple(slice(None, None, 2) for _ in a.shape)]
    assert not v.flags.c_contiguous or a.size <= 1
    return v


def _reversed(a):
    "The values of `a` as a view with negative strides."
    return np.flip(np.flip(a).copy())


def _readonly(a):
    b = a.copy()
    b.flags.writeable = False
    return b


# every form holds exactly the values of the float64 reference `a`
FLOAT_FORMS = {
    "fortran": np.asfortranarray,
    "strided": _strided,
    "reversed": _reversed,
    "readonly": _readonly,
    "list": lambda a: a.tolist(),
    "float32": lambda a: a.astype(np.float32),
}
INT_FORMS = {  # for arrays of small non-negative integers (binarised inputs, labels, sources)
    "int64": lambda a: a.astype(np.int64), "int32": lambda a: a.astype(np.int32),
    "uint8": lambda a: a.astype(np.uint8), "int8_fortran": lambda a: np.asfortranarray(a.astype(np.int8)),
}


def _same(a, b):
    "Bit-identical results: equal dtype, shape and bits (NaN-free here), recursively through dicts/lists/tuples."
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8))
    else:
        assert type(a) is type(b) and (a == b), (a, b)


# ---- TTFSNetwork ----------------------------------------------------------------------------------------------
B, N_IN, N_OUT = 12, 10, 3


@pytest.fixture(scope="module", params=[np.float64, np.float32], ids=["f64", "f32"])
def case(request):
    "A small network, binarised inputs, float32-exact input times (multiples of 1/16, some inf), labels."
    net = TTFSNetwork((N_IN, 8, N_OUT), T=4.0, seed=3, w_scale=2.0, dtype=request.param)
    rng = np.random.default_rng(5)
    xb = (rng.random((B, N_IN)) < 0.5).astype(np.float64)
    xt = np.where(rng.random((B, N_IN)) < 0.6, rng.integers(0, 48, (B, N_IN)) / 16, np.inf)
    labels = rng.integers(0, N_OUT, B)
    return net, xb, xt, labels


def _methods(net, x, labels, as_times):
    return dict(
        output_times=net.output_times(x, as_times=as_times),
        loss_and_grad=net.loss_and_grad(x, labels, as_times=as_times),
        evaluate=net.evaluate(x, labels, as_times=as_times, batch_size=5),
        predict=net.predict(x, as_times=as_times, batch_size=5),
        vjp=net.output_times_vjp(x, np.ones((B, N_OUT)), as_times=as_times),
    )


@pytest.mark.parametrize("form", list(FLOAT_FORMS) + list(INT_FORMS) + ["bool"])
def test_ttfs_binarised_inputs_any_layout(case, form):
    net, xb, _, labels = case
    ref = _methods(net, xb, labels, False)
    f = (FLOAT_FORMS | INT_FORMS | {"bool": lambda a: a.astype(bool)})[form]
    _same(ref, _methods(net, f(xb), labels, False))


@pytest.mark.parametrize("form", list(FLOAT_FORMS))
def test_ttfs_input_times_any_layout(case, form):
    net, _, xt, labels = case
    _same(_methods(net, xt, labels, True), _methods(net, FLOAT_FORMS[form](xt), labels, True))


def test_ttfs_integer_input_times(case):
    "Integer spike times (no inf possible in an integer array: every input spikes) equal the same floats."
    net, _, xt, labels = case
    xi = np.where(np.isfinite(xt), np.floor(xt), 1.0)
    for f in INT_FORMS.values():
        _same(_methods(net, xi, labels, True), _methods(net, f(xi), labels, True))


@pytest.mark.parametrize("form", ["int32", "uint8", "list", "fortran_int16", "float64"])
def test_ttfs_labels_any_dtype(case, form):
    net, xb, _, labels = case
    f = {"int32": lambda a: a.astype(np.int32), "uint8": lambda a: a.astype(np.uint8), "list": lambda a: a.tolist(),
         "fortran_int16": lambda a: np.asfortranarray(a.astype(np.int16)),
         "float64": lambda a: a.astype(np.float64)}[form]
    try:
        got = (net.loss_and_grad(xb, f(labels)), net.evaluate(xb, f(labels)))
    except TypeError as err:  # float labels may be refused, but only with a clear message naming them
        assert form == "float64" and "labels" in str(err)
        return
    _same((net.loss_and_grad(xb, labels), net.evaluate(xb, labels)), got)


def test_ttfs_weights_any_layout(case):
    "Weights assigned in Fortran order or as strided views give the bits of C-ordered weights."
    net, xb, _, labels = case
    ref = _methods(net, xb, labels, False)
    saved = [w.copy() for w in net.weights]
    try:
        for f in (np.asfortranarray, _strided, _reversed):
            net.weights = [f(w) for w in saved]
            _same(ref, _methods(net, xb, labels, False))
    finally:
        net.weights = saved


# ---- simulate / simulate_batch --------------------------------------------------------------------------------
def _sim_case(kind):
    "A small recurrent network with weights and times that float32 holds exactly (multiples of 1/64)."
    rng = np.random.default_rng(17)
    N, N_in, n = 5, 3, 14
    neuron = {"qif": QIF(), "lif": LIF(), "theta": Theta()}[kind]
    scale = {"qif": 1.0, "lif": 1.0, "theta": 0.25}[kind]
    w = np.round(rng.normal(0, 1.5, (N, N)) * 64) / 64 * scale * (rng.random((N, N)) < 0.6)
    w_in = np.round(rng.normal(3.0, 2.0, (N, N_in)) * 64) / 64 * scale
    tin = np.round(rng.uniform(0, 6, n) * 64) / 64
    src = rng.integers(0, N_in, n)
    x0 = None if kind == "theta" else np.stack([np.round(rng.uniform(-1, 0.5, N) * 64) / 64,
                                                  np.round(rng.normal(0, 1, N) * 64) / 64])
    return neuron, w, w_in, tin, src, 6.0, x0


def _trial_bits(tr):
    return [tr.spike_times, tr.spike_neurons, tr.state_T, tr.event_times, tr.event_kinds, tr.event_index, tr.states,
            tr.input_order, tr.input_times, tr.input_sources, tr.w, tr.w_in]


SIM_FORMS = dict(FLOAT_FORMS)


@pytest.mark.parametrize("kind", ["qif", "lif", "theta"])
@pytest.mark.parametrize("arg", ["w", "w_in", "input_times", "x0"])
@pytest.mark.parametrize("form", list(SIM_FORMS))
def test_simulate_any_layout(kind, arg, form):
    neuron, w, w_in, tin, src, T, x0 = _sim_case(kind)
    if arg == "x0" and x0 is None:
        x0 = np.full(w.shape[0], 1.5)
    kw = dict(w=w, w_in=w_in, input_times=tin, input_sources=src, T=T, x0=x0)
    ref = simulate(neuron, **kw)
    assert len(ref.spike_times) > 3  # a network that does something
    _same(_trial_bits(ref), _trial_bits(simulate(neuron, **(kw | {arg: SIM_FORMS[form](kw[arg])}))))


@pytest.mark.parametrize("form", ["int32", "uint8", "int8_fortran", "list", "strided", "float64", "reversed"])
def test_simulate_sources_any_dtype(form):
    neuron, w, w_in, tin, src, T, x0 = _sim_case("qif")
    f = (INT_FORMS | FLOAT_FORMS | {"float64": lambda a: a.astype(np.float64)})[form]
    ref = simulate(neuron, w, w_in, tin, src, T, x0)
    _same(_trial_bits(ref), _trial_bits(simulate(neuron, w, w_in, tin, f(src), T, x0)))


def test_simulate_integer_weights_and_times():
    "Integer weights, input times and T equal the same values as floats."
    neuron, w, w_in, tin, src, T, x0 = _sim_case("qif")
    wi, wini, ti = np.round(w) + 0.0, np.round(w_in) + 2.0, np.floor(tin)  # + 0.0: no -0.0, as in integers
    ref = simulate(neuron, wi, wini, ti, src, 6.0, x0)
    for f in (lambda a: a.astype(np.int64), lambda a: a.astype(np.int32), lambda a: a.tolist()):
        _same(_trial_bits(ref), _trial_bits(simulate(neuron, f(wi), f(wini), f(ti), src, 6, x0)))


@pytest.mark.parametrize("form", list(SIM_FORMS))
def test_simulate_batch_any_layout(form):
    neuron, w, w_in, tin, src, T, x0 = _sim_case("qif")
    rng = np.random.default_rng(2)
    tins = np.stack([tin, rng.permutation(tin), tin[::-1].copy()])
    srcs = np.stack([src, rng.permutation(src), src[::-1].copy()])
    x0s = np.stack([x0, x0 / 2, x0 / 4])
    ref = simulate_batch(neuron, w, w_in, tins, srcs, T, x0s)
    f = SIM_FORMS[form]
    for kw in (dict(w=f(w)), dict(w_in=f(w_in)), dict(input_times=f(tins)), dict(input_sources=f(srcs)),
               dict(x0=f(x0s))):
        args = dict(w=w, w_in=w_in, input_times=tins, input_sources=srcs, T=T, x0=x0s) | kw
        got = simulate_batch(neuron, **args)
        for a, b in zip(ref, got):
            _same(_trial_bits(a), _trial_bits(b))
