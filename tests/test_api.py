"""The public API: `__all__` lists what `help(smoothgrad)` shows, and every listed name exists and is documented."""
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
