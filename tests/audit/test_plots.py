import warnings

import numpy as np
import pytest

from audit import (
    AuditInputError,
    SmallGroupWarning,
    make_evaluation_table,
    plot_ci_forest,
    plot_confusion,
    run_audit_tables,
)


@pytest.fixture(scope="module")
def tables():
    t = make_evaluation_table(60, 2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        return run_audit_tables(
            t, groupings=["ethnicity", "gender"], max_order=2, n_boot=30, n_permutations=10
        )


def test_confusion_heatmap_has_rate_and_n_on_cells(tables, tmp_path):
    ax = plot_confusion(tables["confusion"], target="ethnicity")
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 16 and all("n=" in t for t in texts)
    conf = tables["confusion"].query(
        "metric == 'confusion' and target == 'ethnicity' and group_label == 'all'"
    )
    first = conf.iloc[0]
    assert f"{first['value']:.2f}\nn={first['count']}" in texts
    assert [t.get_text().split(" (")[0] for t in ax.get_yticklabels()] == [
        "Asian",
        "Black",
        "Indian",
        "White",
    ]
    ax.figure.savefig(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_confusion_empty_row_is_blank(tables):
    conf = tables["confusion"]
    empty = conf[
        (conf.metric == "confusion") & (conf.target == "ethnicity") & (conf.n_utterances == 0)
    ]
    label = empty["group_label"].iloc[0]
    ax = plot_confusion(conf, target="ethnicity", group_label=label)
    # seaborn leaves NaN cells (the empty row) blank; the row label says n=0
    assert len(ax.texts) <= 12
    assert any(t.get_text().endswith("(n=0)") for t in ax.get_yticklabels())


def test_forest_plot_rows_and_errors(tables):
    ax = plot_ci_forest(
        tables["metrics"], metric="agreement", target="gender", attribute="ethnicity"
    )
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 5 and labels[0].startswith("ethnicity=Asian (n=")
    assert len(ax.lines) >= 1  # overall reference line
    with pytest.raises(AuditInputError, match="no rows for metric 'nope'"):
        plot_ci_forest(tables["metrics"], metric="nope", target="gender")
    with pytest.raises(AuditInputError, match="no 'confusion' rows for target 'x'"):
        plot_confusion(tables["confusion"], target="x")
    assert np.isfinite(ax.get_xlim()).all()
