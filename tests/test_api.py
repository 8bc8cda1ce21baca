"""The public API: `__all__` lists what `help(smoothgrad)` shows, and every listed name exists and is documented."""
import inspect
import pydoc

import smoothgrad


def test_all_names_exist_and_have_docstrings():
    assert len(smoothgrad.__all__) == len(set(smoothgrad.__all__)) >= 15
    for name in smoothgrad.__all__:
        obj = getattr(smoothgrad, name)
        assert (obj.__doc__ or "").strip(), f"{name} has no docstring"


def test_help_lists_the_api():
    text = pydoc.render_doc(smoothgrad, renderer=pydoc.plaintext)
    for name in ("simulate", "output_times", "output_times_vjp", "TTFSNetwork", "train", "QIF"):
        assert name in text


def test_help_documents_every_constructor_parameter():
    """`help(TTFSNetwork)` (and editors, which read docstrings) show what each constructor parameter means, in the
    words of the signature's docments, so the two cannot drift apart."""
    from fastcore.docments import docments

    text = " ".join(pydoc.render_doc(smoothgrad.TTFSNetwork, renderer=pydoc.plaintext).split())
    params = inspect.signature(smoothgrad.TTFSNetwork.__init__).parameters
    comments = docments(smoothgrad.TTFSNetwork.__init__)
    assert set(params) - {"self"} == {"sizes", "neuron", "T", "seed", "w_scale", "dtype", "backend", "t_in", "reg",
                                      "phi0", "beta"}
    for name in set(params) - {"self"}:
        assert comments[name] and f"{name}: {comments[name]}" in text, name


def test_network_methods_are_the_class_own():
    "One class: every public method is defined on `TTFSNetwork` itself (no mixins) and documented."
    cls = smoothgrad.TTFSNetwork
    assert cls.__mro__ == (cls, object)
    for name in ("output_times", "loss_and_grad", "output_times_vjp", "predict", "evaluate", "save", "load", "params",
                 "clip_params", "set_backend", "input_times"):
        f = getattr(cls, name)
        assert f.__qualname__ == f"TTFSNetwork.{name}" and (f.__doc__ or "").strip(), name
    assert inspect.ismethod(cls.load) and cls.load.__self__ is cls  # a class method
