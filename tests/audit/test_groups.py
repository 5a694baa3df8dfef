import numpy as np
import pandas as pd
import pytest

from audit import MISSING, AuditInputError
from audit.stats import build_groupings, column_levels


def test_missing_labels_are_their_own_group():
    t = pd.DataFrame({"g": ["m", None, "f", "", "  ", np.nan]})
    codes, levels = column_levels(t, "g")
    assert levels == ["f", "m", MISSING]
    assert codes.tolist() == [1, 2, 0, 2, 2, 2]


def test_categorical_keeps_unused_categories_as_empty_groups():
    t = pd.DataFrame({"g": pd.Categorical(["b", "b"], categories=["a", "b", "c"])})
    codes, levels = column_levels(t, "g")
    assert levels == ["a", "b", "c"]
    assert codes.tolist() == [1, 1]


def test_intersections_list_every_combination_including_empty():
    t = pd.DataFrame({"a": ["x", "x", "y"], "b": ["u", "v", "u"], "c": ["1", "1", "2"]})
    gs = build_groupings(t, ["a", "b", "c"], max_order=2)
    assert [g.attribute for g in gs] == ["overall", "a", "b", "c", "a x b", "a x c", "b x c"]
    ab = gs[4]
    assert ab.n_groups == 4
    counts = np.bincount(ab.codes, minlength=ab.n_groups)
    by_label = dict(zip(ab.labels(), counts, strict=True))
    assert by_label == {"a=x x b=u": 1, "a=x x b=v": 1, "a=y x b=u": 1, "a=y x b=v": 0}
    # every row's group labels match the row
    for row in range(len(t)):
        grp = ab.groups[ab.codes[row]]
        assert grp == {"a": t["a"][row], "b": t["b"][row]}


def test_explicit_intersection_and_order_three():
    t = pd.DataFrame({"a": ["x", "y"], "b": ["u", "v"], "c": ["1", "2"]})
    gs = build_groupings(t, ["a", ["b", "c"]], max_order=1, include_overall=False)
    assert [g.attribute for g in gs] == ["a", "b x c"]
    gs3 = build_groupings(t, ["a", "b", "c"], max_order=3)
    assert gs3[-1].attribute == "a x b x c" and gs3[-1].n_groups == 8


def test_errors_name_the_column_and_value():
    t = pd.DataFrame({"a": ["x", MISSING]})
    with pytest.raises(AuditInputError, match="'nope' is not in the evaluation table"):
        build_groupings(t, ["nope"])
    with pytest.raises(AuditInputError, match="reserved label"):
        build_groupings(t, ["a"])
    with pytest.raises(AuditInputError, match="max_order must be an integer >= 1, got 0"):
        build_groupings(t, ["a"], max_order=0)
