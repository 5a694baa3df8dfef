"""Settings objects that double as keyword arguments: one helper shared by the entry points.

:func:`audit.audit_model`, :func:`audit.build_evaluation_table` and
:func:`audit.language_swap_table` take a frozen, keyword-only settings dataclass and accept
each of its fields as a keyword argument as well (the public keyword API), merged here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["with_options"]

_S = TypeVar("_S")


def with_options(cls: type[_S], settings: _S | None, options: Mapping[str, Any], caller: str) -> _S:
    """Return ``settings`` (default ``cls()``) with the keyword ``options`` replaced.

    Raises
    ------
    TypeError
        For an option that is not a field of ``cls``, naming the fields (as Python does for
        an unknown keyword argument).
    """
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise TypeError(
            f"{caller}() got unexpected keyword argument(s) {unknown}; allowed: {fields}"
        )
    return dataclasses.replace(settings or cls(), **options)
