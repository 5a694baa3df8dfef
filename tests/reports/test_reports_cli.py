from __future__ import annotations

from report_fixtures import make_audit, write_audit
from report_helpers import soup_of

from s2f_cli import main


def test_report_command(tmp_path, capsys):
    path = write_audit(tmp_path / "a", make_audit())
    out = tmp_path / "r" / "report.html"
    status = main(["report", str(path), "--out", str(out), "--title", "Audit <b>A</b>"])
    assert status == 0
    soup = soup_of(out)
    assert soup.find("h1").get_text() == "Audit <b>A</b>"  # escaped, shown as typed
    command = soup.find(id="report-command").get_text()
    assert command == f"s2f-audit report {path} --out {out} --title 'Audit <b>A</b>'"
    assert (tmp_path / "r" / "report_files" / "disparities.csv").is_file()


def test_report_command_bad_file(tmp_path, capsys):
    bad = tmp_path / "audit.json"
    bad.write_text("[]", encoding="utf-8")
    status = main(["report", str(bad), "--out", str(tmp_path / "r.html")])
    assert status == 2
    err = capsys.readouterr().err
    assert f"s2f-audit report: error: {bad}: expected a JSON object, got list" in err


def test_report_command_bad_max_rows(tmp_path, capsys):
    path = write_audit(tmp_path / "a", make_audit())
    status = main(["report", str(path), "--out", str(tmp_path / "r.html"), "--max-rows", "0"])
    assert status == 2
    assert "--max-rows must be at least 1, got 0" in capsys.readouterr().err


def test_compare_command_and_refusal(tmp_path, capsys):
    pa = write_audit(tmp_path / "a", make_audit())
    pb = write_audit(tmp_path / "b", make_audit())
    pc = write_audit(tmp_path / "c", make_audit(row_ids="ff" * 32))
    out = tmp_path / "compare.html"
    assert main(["compare", str(pa), str(pb), "--out", str(out)]) == 0
    assert out.is_file() and (tmp_path / "compare_files").is_dir()
    status = main(["compare", str(pa), str(pc), "--out", str(tmp_path / "x.html")])
    assert status == 2
    err = capsys.readouterr().err
    assert "s2f-audit compare: error: cannot compare: the audits were run on different" in err
    assert not (tmp_path / "x.html").exists()


def test_compare_command_paired_with_n_boot(tmp_path, monkeypatch):
    import audit

    seen = {}

    def fake(a, b, settings=None, **options):  # the CLI's one call into audit's comparison
        seen.update(options)
        paired = {
            "metric": "agreement",
            "target": "gender",
            "group": {},
            "value_a": 0.5,
            "value_b": 0.6,
            "difference": 0.1,
            "flags": [],
        }
        return audit.PairedComparison({"paired": [paired]})

    monkeypatch.setattr(audit, "paired_comparison", fake)
    pa = write_audit(tmp_path / "a", make_audit())
    pb = write_audit(tmp_path / "b", make_audit())
    for path in (pa, pb):
        (path.parent / "evaluation.csv").write_text("utterance_id\n", encoding="utf-8")
    out = tmp_path / "c.html"
    assert main(["compare", str(pa), str(pb), "--out", str(out), "--n-boot", "9"]) == 0
    assert seen == {"n_boot": 9}
    soup = soup_of(out)
    assert soup.find(id="paired-note") is not None
    assert soup.find(id="report-command").get_text().endswith("--n-boot 9")
