"""Show the library's own code in the book, so no chapter pastes a second copy.

Used in every chapter: ``show_source(GRUEncoder)`` renders the class's current source.
"""

from __future__ import annotations

import inspect

__all__ = ["show_source"]


def show_source(obj, *, lines: tuple[int, int] | None = None):
    """The source of a function, class or method of ``lode_utils`` as a Markdown code block.

    Args:
        obj: the object (e.g. ``lode_utils.encoders.GRUEncoder.forward``).
        lines: optional ``(first, last)`` 1-based line range within the object's source.

    Returns:
        An ``IPython.display.Markdown`` (rendered in Jupyter and in the HTML book), headed
        with the file it lives in.
    """
    from IPython.display import Markdown

    src = inspect.getsource(obj)
    if lines is not None:
        src = "\n".join(src.splitlines()[lines[0] - 1 : lines[1]])
    module = inspect.getmodule(obj).__name__
    return Markdown(f"`{module}.{obj.__qualname__}` — from `{module.replace('.', '/')}.py`:\n\n```python\n{src.rstrip()}\n```")
