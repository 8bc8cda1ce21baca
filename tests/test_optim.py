"""Tests for smoothgrad.optim: references, convergence, schedules, clipping, state round trip."""
import numpy as np
import pytest

from smoothgrad.optim import (
    SGD,
    AdaBelief,
    Adam,
    clip_by_global_norm,
    clip_by_value,
    exponential_decay,
    global_norm,
)

A = np.array([1.0, 4.0, 0.25, 2.0])
C = np.array([0.5, -1.0, 2.0, 0.0])


def quad_grad(theta):
    return A * (theta - C)


def ref_adam(theta, steps, lr, b1, b2, eps):
    """Hand-written Adam loop in float64 scalars-per-element style."""
    theta = theta.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t in range(1, steps + 1):
        g = quad_grad(theta)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mh = m / (1 - b1**t)
        vh = v / (1 - b2**t)
        theta = theta - lr * mh / (np.sqrt(vh) + eps)
    return theta


def ref_adabelief(theta, steps, lr, b1, b2, eps):
    theta = theta.copy()
    m = np.zeros_like(theta)
    s = np.zeros_like(theta)
    for t in range(1, steps + 1):
        g = quad_grad(theta)
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * (g - m) ** 2 + eps
        mh = m / (1 - b1**t)
        sh = s / (1 - b2**t)
        theta = theta - lr * mh / (np.sqrt(sh) + eps)
    return theta


def run(opt, theta0, steps):
    theta = [theta0.copy()]
    for _ in range(steps):
        opt.step(theta, [quad_grad(theta[0])])
    return theta[0]


def test_adam_one_step_is_lr_times_sign():
    theta0 = np.array([1.0, 1.0, 1.0, 1.0])
    out = run(Adam(0.1), theta0, 1)
    # first bias-corrected Adam step is lr * g / (|g| + eps)
    g = quad_grad(theta0)
    np.testing.assert_allclose(out, theta0 - 0.1 * g / (np.abs(g) + 1e-8), rtol=0, atol=1e-15)


@pytest.mark.parametrize("steps", [1, 2, 7, 50])
def test_adam_matches_reference(steps):
    theta0 = np.array([1.0, -2.0, 3.0, 0.3])
    out = run(Adam(0.03, betas=(0.8, 0.99), eps=1e-6), theta0, steps)
    np.testing.assert_allclose(out, ref_adam(theta0, steps, 0.03, 0.8, 0.99, 1e-6), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("steps", [1, 2, 7, 50])
def test_adabelief_matches_reference(steps):
    theta0 = np.array([1.0, -2.0, 3.0, 0.3])
    out = run(AdaBelief(0.03), theta0, steps)
    np.testing.assert_allclose(out, ref_adabelief(theta0, steps, 0.03, 0.9, 0.999, 1e-16), rtol=1e-12, atol=1e-14)


def test_adabelief_first_step_by_hand():
    # t=1: m = 0.1 g, s = 0.001 (0.9 g)^2 + eps, mh = g, sh = 0.81 g^2 + 1000 eps
    g = np.array([2.0, -0.5])
    p = [np.zeros(2)]
    AdaBelief(1.0).step(p, [g])
    np.testing.assert_allclose(p[0], -g / (0.9 * np.abs(g)), rtol=1e-12)


@pytest.mark.parametrize(
    "opt", [SGD(0.1), SGD(0.05, momentum=0.9), Adam(0.05), AdaBelief(0.05), AdaBelief(exponential_decay(0.05, 500))]
)
def test_converges_on_quadratic(opt):
    out = run(opt, np.array([3.0, 3.0, -3.0, 1.0]), 2000)
    np.testing.assert_allclose(out, C, atol=1e-2)


def test_float32_params_stay_float32():
    p = [np.ones((2, 3), dtype=np.float32)]
    for opt in [SGD(0.1), Adam(0.1), AdaBelief(0.1)]:
        opt.step(p, [np.ones((2, 3))])
        assert p[0].dtype == np.float32
        assert all(b.dtype == np.float32 for b in opt.state_dict().values() if b.dtype.kind == "f")


def test_schedule_values():
    s = exponential_decay(4e-3, 100.0)
    assert s(0) == 4e-3
    np.testing.assert_allclose([s(k) for k in (50, 100, 300)], 4e-3 * np.exp(-np.array([0.5, 1.0, 3.0])), rtol=1e-14)
    with pytest.raises(ValueError, match="decay_steps"):
        exponential_decay(1.0, 0)
    with pytest.raises(ValueError, match="lr0"):
        exponential_decay(-1.0, 10)


def test_callable_schedule_is_used_per_step():
    seen = []

    def lr(step):
        seen.append(step)
        return 0.1 * (step + 1)

    p = [np.zeros(1)]
    opt = SGD(lr)
    for _ in range(3):
        opt.step(p, [np.ones(1)])
    assert seen == [0, 1, 2]
    np.testing.assert_allclose(p[0], [-(0.1 + 0.2 + 0.3)])


def test_clip_by_value():
    g = [np.array([-1.0, -0.01, 0.0, 0.019, 0.5]), np.array([[3.0]], dtype=np.float32)]
    out = clip_by_value(g, 0.02)
    np.testing.assert_array_equal(out[0], [-0.02, -0.01, 0.0, 0.019, 0.02])
    assert out[1].dtype == np.float32 and out[1][0, 0] == np.float32(0.02)
    assert g[0][0] == -1.0  # input untouched
    with pytest.raises(ValueError, match="c must"):
        clip_by_value(g, 0.0)
    with pytest.raises(TypeError, match="grads"):
        clip_by_value(np.ones(3), 0.1)


def test_clip_by_global_norm():
    g = [np.array([3.0, 0.0]), np.array([[0.0, 4.0]])]
    assert global_norm(g) == 5.0
    out = clip_by_global_norm(g, 1.0)
    np.testing.assert_allclose(out[0], [0.6, 0.0])
    np.testing.assert_allclose(out[1], [[0.0, 0.8]])
    same = clip_by_global_norm(g, 10.0)
    np.testing.assert_array_equal(same[1], g[1])
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm(g, -1)


@pytest.mark.parametrize("make", [lambda: SGD(0.05, momentum=0.5), lambda: Adam(0.05), lambda: AdaBelief(0.05)])
def test_state_round_trip_gives_identical_continuation(make, tmp_path):
    theta0 = np.array([3.0, 3.0, -3.0, 1.0])
    full = run(make(), theta0, 20)
    opt = make()
    theta = run(opt, theta0, 10)
    np.savez(tmp_path / "s.npz", **opt.state_dict())
    opt2 = make()
    with np.load(tmp_path / "s.npz") as d:
        opt2.load_state_dict(d)
    assert opt2.step_count == 10
    resumed = run(opt2, theta, 10)
    np.testing.assert_array_equal(resumed, full)


def test_load_state_rejects_other_kind():
    opt = Adam(0.1)
    opt.step([np.zeros(2)], [np.ones(2)])
    with pytest.raises(ValueError, match="Adam"):
        AdaBelief(0.1).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="d "):
        Adam(0.1).load_state_dict({"step": np.array(1)})


def test_bad_inputs():
    with pytest.raises(ValueError, match="lr"):
        Adam(-1.0)
    with pytest.raises(ValueError, match="betas"):
        Adam(0.1, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="betas"):
        AdaBelief(0.1, betas=0.9)
    opt = Adam(0.1)
    with pytest.raises(ValueError, match="grads"):
        opt.step([np.zeros(2)], [np.zeros(3)])
    with pytest.raises(ValueError, match="grads"):
        opt.step([np.zeros(2)], [])
    with pytest.raises(TypeError, match="params"):
        opt.step([np.zeros(2, dtype=int)], [np.zeros(2)])
    opt.step([np.zeros(2)], [np.ones(2)])
    with pytest.raises(ValueError, match="state"):
        opt.step([np.zeros(4)], [np.ones(4)])


def test_adabelief_previous_belief_error_matches_old_optax_recursion():
    """`belief_error="previous"`: s tracks (g_t - m_{t-1})^2 (optax <= 0.2.3), all else unchanged."""
    rng = np.random.default_rng(7)
    grads = rng.normal(size=(20, 4))
    b1, b2, eps, lr = 0.9, 0.999, 1e-16, 1e-2
    opt = AdaBelief(lr, betas=(b1, b2), belief_error="previous")
    x = [np.zeros(4)]
    ref, m, s = np.zeros(4), np.zeros(4), np.zeros(4)
    for t, g in enumerate(grads, start=1):
        opt.step(x, [g.copy()])
        s = b2 * s + (1 - b2) * (g - m) ** 2 + eps
        m = b1 * m + (1 - b1) * g
        ref -= lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
    np.testing.assert_allclose(x[0], ref, rtol=1e-12)
    with pytest.raises(ValueError, match="belief_error"):
        AdaBelief(lr, belief_error="next")


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), lambda: Adam(0.1), lambda: AdaBelief(0.1)])
def test_reuse_on_other_parameters_raises_until_reset(make):
    """An optimiser belongs to the arrays of its first step: the same shapes elsewhere (a fresh network) raise,
    `reset()` starts afresh at step 0, and `load_state_dict` binds to the next step's arrays."""
    opt, x = make(), [np.zeros(3), np.zeros((2, 2))]
    g = [np.ones(3), np.ones((2, 2))]
    opt.step(x, g)
    opt.step(x, g)  # the same arrays: fine
    fresh = [np.zeros(3), np.zeros((2, 2))]
    with pytest.raises(ValueError, match="reset"):
        opt.step(fresh, g)
    with pytest.raises(ValueError, match="reset"):
        opt.step([x[0], np.zeros((2, 2))], g)  # one array replaced
    assert opt.step_count == 2 and (fresh[0] == 0).all()  # nothing changed
    saved = opt.state_dict()
    opt.reset()
    assert opt.step_count == 0 and opt.state is None
    opt.step(fresh, g)
    new, y = make(), [np.zeros(3), np.zeros((2, 2))]
    new.step(y, g)
    assert opt.step_count == 1  # the first step of a new optimiser, not the third of the old one
    for a, b in zip(fresh, y):
        np.testing.assert_array_equal(a, b)
    restored = make()
    restored.load_state_dict(saved)
    restored.step(x, g)  # after loading, the next step's arrays are its parameters
    assert restored.step_count == 3
    with pytest.raises(ValueError, match="reset"):
        restored.step(fresh, g)


def test_copies_and_pickles_bind_afresh():
    import copy
    import pickle

    opt, x = Adam(0.1), [np.zeros(2)]
    opt.step(x, [np.ones(2)])
    for duplicate in (lambda o: pickle.loads(pickle.dumps(o)), copy.deepcopy):
        c, y = duplicate(opt), [x[0].copy()]
        c.step(y, [np.ones(2)])  # a copy is bound to nothing until its next step
        opt.step(x, [np.ones(2)])
        np.testing.assert_array_equal(y[0], x[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("belief_error", ["current", "previous"])
def test_adabelief_kernel_equals_numpy_expression(dtype, belief_error):
    "The compiled elementwise update gives NumPy's arithmetic in the parameters' dtype, bit for bit, over many steps."
    rng = np.random.default_rng(3)
    opt = AdaBelief(exponential_decay(1e-2, 50), betas=(0.9, 0.99), belief_error=belief_error)
    p = [rng.normal(size=(30, 7)).astype(dtype), rng.normal(size=5).astype(dtype)]
    q = [x.copy() for x in p]
    m = [np.zeros_like(x) for x in p]
    s = [np.zeros_like(x) for x in p]
    for t in range(1, 101):
        g = [(rng.normal(size=x.shape) * 10.0 ** rng.uniform(-8, 3, x.shape)).astype(dtype) for x in p]
        lr = opt.current_lr()
        opt.step(p, g)
        for i in range(2):  # AdaBelief as NumPy computes it: Python floats meet arrays of the dtype
            m_new = m[i] * 0.9 + (1 - 0.9) * g[i]
            d = g[i] - (m[i] if belief_error == "previous" else m_new)
            s[i] = s[i] * 0.99 + (1 - 0.99) * d * d + dtype(1e-16)
            m[i] = m_new
            q[i] -= lr * (m[i] / (1 - 0.9**t)) / (np.sqrt(s[i] / (1 - 0.99**t)) + 1e-16)
            assert q[i].dtype == dtype and np.array_equal(p[i], q[i]), (t, i)
