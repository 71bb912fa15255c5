"""load_procedures: bad files are reported with file and line/field; good files still load."""

from pathlib import Path

from framework.gate import PolicyGate
from framework.memory.procedural import load_procedures
from framework.memory.working import WorkingState

ROOT = Path(__file__).resolve().parents[1]

GOOD_SKILL = "name: triage\nwhen_to_use: a bug report arrives\nsteps: [reproduce, fix]\n"
GOOD_POLICY = "name: no_prod_db\nversion: 2\napplies_to:\n  tools: [query_db]\n" \
              "  arguments: {dsn: 'prod'}\nforbid: true\n"


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def errors_for(errors: list[str], path: Path) -> list[str]:
    return [e for e in errors if e.startswith(str(path))]


def test_good_files_load_beside_bad_ones(tmp_path: Path) -> None:
    skills, policies = tmp_path / "skills", tmp_path / "policies"
    write(skills, "triage.yaml", GOOD_SKILL)
    write(policies, "no_prod_db.yml", GOOD_POLICY)
    bad_yaml = write(skills, "broken.yaml", "name: broken\nsteps:\n  - one\n - two\n")
    missing = write(skills, "missing.yaml", "name: nowhen\nsteps: [a]\n")
    unknown = write(policies, "unknown.yaml", GOOD_POLICY.replace("no_prod_db", "x") + "colour: red\n")
    bad_regex = write(policies, "regex.yaml", "name: r\napplies_to:\n  tools: [run_shell]\n"
                                              "  arguments: {command: '(unclosed'}\nforbid: true\n")
    out = load_procedures(skills, policies)

    assert [s.name for s in out.skills] == ["triage"]
    assert [(p.name, p.version) for p in out.policies] == [("no_prod_db", 2)]
    [yaml_error] = errors_for(out.errors, bad_yaml)
    assert yaml_error.startswith(f"{bad_yaml}:4: not valid YAML")  # file and line
    [missing_error] = errors_for(out.errors, missing)
    assert "field when_to_use" in missing_error and "required" in missing_error
    [unknown_error] = errors_for(out.errors, unknown)
    assert unknown_error.startswith(f"{unknown}:7: field colour: unknown key: remove it, or use one of: ")
    [regex_error] = errors_for(out.errors, bad_regex)
    assert "field applies_to.arguments" in regex_error and "bad pattern '(unclosed'" in regex_error
    assert len(out.errors) == 4


def test_wrong_shapes_are_reported(tmp_path: Path) -> None:
    listing = write(tmp_path, "list.yaml", "- name: a\n")
    empty_steps = write(tmp_path, "empty.yaml", "name: e\nwhen_to_use: x\nsteps: []\n")
    out = load_procedures(tmp_path, None)
    assert out.skills == []
    assert errors_for(out.errors, listing) == [
        f"{listing}:1: a skill file is a YAML mapping (key: value lines), not a list"
    ]
    [steps_error] = errors_for(out.errors, empty_steps)
    assert "field steps" in steps_error


def test_missing_folder_is_an_error_not_a_crash(tmp_path: Path) -> None:
    out = load_procedures(tmp_path / "nope", None)
    assert out.errors == [f"{tmp_path / 'nope'}: folder not found"]


def test_shipped_skills_and_policies_load_cleanly() -> None:
    out = load_procedures(ROOT / "skills", ROOT / "policies")
    assert out.errors == []
    assert {s.name for s in out.skills} >= {"code_review", "safe_deployment"}
    assert {p.name for p in out.policies} >= {"staging_first_deployment",
                                              "destructive_command_approval"}


def test_undecodable_file_is_reported_and_others_load(tmp_path: Path) -> None:
    write(tmp_path, "triage.yaml", GOOD_SKILL)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    out = load_procedures(tmp_path, None)
    assert [s.name for s in out.skills] == ["triage"]
    assert len(errors_for(out.errors, binary)) == 1


def test_bad_regex_in_exceptions_is_reported_at_load(tmp_path: Path) -> None:
    bad = write(tmp_path, "exc.yaml", "name: x\napplies_to: {tools: [t]}\nforbid: true\n"
                                      "exceptions:\n  - arguments: {a: '([bad'}\n")
    out = load_procedures(None, tmp_path)
    assert out.policies == []
    assert any(e.startswith(f"{bad}:5: field exceptions[0].arguments") for e in out.errors)
    PolicyGate(out.policies).check("t", {"a": "x"}, WorkingState(user_id="u", session_id="s"))
