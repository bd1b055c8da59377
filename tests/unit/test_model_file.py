"""Model files are validated with errors that name the file, the rule and the field."""

from __future__ import annotations

import pytest

from leadflow_scoring.model_file import ModelFileError, load_model, parse_model

BASE = """
id: test
thresholds: {mql: 10, sql: 20}
engagement:
  - id: form
    touchpoint: form_submitted
    points: 10
    reason: form
"""


def test_default_model_loads_with_id_and_hash():
    model = load_model()
    assert model.id == "default@1"
    assert len(model.hash) == 16
    assert model.rules_for("page_viewed")  # indexed by type


def test_hash_changes_with_content():
    assert parse_model(BASE).hash != parse_model(BASE.replace("points: 10", "points: 11")).hash


def test_unknown_operator_is_named_with_its_path():
    text = BASE + "    when:\n      - {field: properties.page_url, op: 'gt=', value: 3}\n"
    with pytest.raises(ModelFileError) as err:
        parse_model(text, "models/custom.yaml")
    assert "models/custom.yaml: engagement[0].when[0].op" in str(err.value)
    assert "unknown operator 'gt='" in str(err.value)


def test_unknown_touchpoint_type_is_rejected():
    with pytest.raises(ModelFileError, match=r"engagement\[0\]\.touchpoint"):
        parse_model(BASE.replace("form_submitted", "fax_received"))


def test_sql_below_mql_is_rejected():
    with pytest.raises(ModelFileError, match="thresholds.sql"):
        parse_model(BASE.replace("sql: 20", "sql: 5"))


def test_missing_file_says_so(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read"):
        load_model(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("title", "rule", "matches"),
    [
        ("Abteilungsleiterin Vertrieb", "decision-maker", True),
        ("Geschäftsführerin", "decision-maker", True),
        ("Head of IT", "decision-maker", True),
        ("Software Engineer", "decision-maker", False),
        ("Werkstudentin Marketing", "student", True),
        ("Praktikant", "student", True),
        ("Internal Auditor", "student", False),
    ],
)
def test_default_fit_rules_read_german_and_english_titles(title, rule, matches):
    fit_rule = next(r for r in load_model().fit_rules if r.id == rule)
    assert fit_rule.applies({"profile.job_title": title}) is matches
