"""build_spec: a tool's JSON schema comes from its type hints and Google-style docstring."""

from typing import Literal

import pytest

from framework.errors import DefinitionError
from framework.tools import ToolSpec, build_spec, tool


class Deployer:
    @tool
    def deploy(self, version: str, replicas: int = 2, env: Literal["staging", "prod"] = "staging") -> str:
        """Deploy a version of the service.

        Args:
            version: the release tag to deploy, e.g. v1.4.2
            replicas (int): how many pods to run
            env: where to deploy
        """
        return f"{version}x{replicas}@{env}"

    @tool(name="undocumented")
    def no_doc(self, x: int) -> int:
        return x

    def no_hint(self, target) -> str:  # type: ignore[no-untyped-def]
        """Ping a target."""
        return str(target)

    def report(self, ticket: int) -> str:
        """Summarise a ticket.

        Args:
            ticket: the ticket number

        Returns:
            a one-paragraph summary of the ticket
        """
        return str(ticket)


def spec_of(method_name: str, name: str | None = None) -> ToolSpec:
    fn = getattr(Deployer(), method_name)
    return build_spec(fn, name or method_name, "Deployer")


def test_schema_from_hints_and_docstring() -> None:
    fn = spec_of("deploy").schema()["function"]
    assert fn["name"] == "deploy"
    assert fn["description"] == "Deploy a version of the service."
    props = fn["parameters"]["properties"]
    assert props["version"] == {"type": "string", "title": "Version",
                                "description": "the release tag to deploy, e.g. v1.4.2"}
    assert props["replicas"]["type"] == "integer" and props["replicas"]["default"] == 2
    assert props["replicas"]["description"] == "how many pods to run"  # "(int)" is skipped
    assert props["env"]["enum"] == ["staging", "prod"]
    assert fn["parameters"]["required"] == ["version"]
    assert "self" not in props


def test_tool_decorator_records_the_name() -> None:
    assert Deployer.deploy.__framework_tool__ == "deploy"
    assert Deployer.no_doc.__framework_tool__ == "undocumented"


def test_validate_applies_defaults_and_coerces() -> None:
    spec = spec_of("deploy")
    assert spec.validate({"version": "v2", "replicas": "3"}) == {
        "version": "v2", "replicas": 3, "env": "staging"}
    assert spec.function(**spec.validate({"version": "v2"})) == "v2x2@staging"


@pytest.mark.parametrize(
    ("arguments", "named"),
    [({}, "version"), ({"version": "v1", "replicas": "lots"}, "replicas"),
     ({"version": "v1", "env": "moon"}, "env")],
)
def test_validation_error_names_the_argument(arguments: dict, named: str) -> None:
    with pytest.raises(ValueError, match=rf"invalid arguments for deploy: .*\b{named}\b"):
        spec_of("deploy").validate(arguments)


def test_missing_docstring_names_class_and_method() -> None:
    with pytest.raises(DefinitionError, match=r"Deployer\.no_doc needs a docstring"):
        spec_of("no_doc", "undocumented")


def test_missing_type_hint_names_class_method_and_parameter() -> None:
    with pytest.raises(DefinitionError, match=r"Deployer\.no_hint: parameter 'target' needs a type hint"):
        spec_of("no_hint")


def test_var_kwargs_are_refused() -> None:
    def anything(**kwargs: int) -> None:
        """Take anything."""

    with pytest.raises(DefinitionError, match=r"Deployer\.anything: \*args/\*\*kwargs"):
        build_spec(anything, "anything", "Deployer")


def test_returns_section_stays_out_of_the_description() -> None:
    spec = spec_of("report")
    assert spec.description == "Summarise a ticket."
    assert spec.schema()["function"]["parameters"]["properties"]["ticket"]["description"] == (
        "the ticket number")


# --- docstring styles (docstring_parser): each keeps its parameter descriptions ----------------
def _google(version: str, replicas: int = 2) -> str:
    """Deploy a version of the service.

    Rolls the pods one by one.

    Args:
        version: the release tag
            to deploy
        replicas (int): how many pods to run

    Returns:
        what was deployed
    """
    return version


def _numpy(version: str, replicas: int = 2) -> str:
    """Deploy a version of the service.

    Rolls the pods one by one.

    Parameters
    ----------
    version : str
        the release tag
        to deploy
    replicas : int, optional
        how many pods to run

    Returns
    -------
    str
        what was deployed
    """
    return version


def _sphinx(version: str, replicas: int = 2) -> str:
    """Deploy a version of the service.

    Rolls the pods one by one.

    :param version: the release tag
        to deploy
    :param int replicas: how many pods to run
    :returns: what was deployed
    """
    return version


@pytest.mark.parametrize("fn", [_google, _numpy, _sphinx], ids=["google", "numpy", "sphinx"])
def test_each_docstring_style_keeps_its_parameter_descriptions(fn: object) -> None:
    schema = build_spec(fn, "deploy", "Styles").schema()["function"]  # type: ignore[arg-type]
    assert schema["description"] == "Deploy a version of the service. Rolls the pods one by one."
    props = schema["parameters"]["properties"]
    assert props["version"]["description"] == "the release tag to deploy"
    assert props["replicas"]["description"] == "how many pods to run"


def test_a_tool_with_its_own_json_schema_is_sent_and_checked_as_given() -> None:
    from framework.tools import any_arguments

    schema = {
        "type": "object",
        "title": "echoArguments",
        "properties": {"text": {"type": "string"}, "times": {"type": "integer", "minimum": 1}},
        "required": ["text"],
    }
    spec = ToolSpec("srv__echo", "Echo.", any_arguments("srv__echo"), lambda **a: a, input_schema=schema)
    sent = spec.schema()["function"]["parameters"]
    assert sent["properties"] == schema["properties"] and "title" not in sent
    assert spec.validate({"text": "hi", "times": 2}) == {"text": "hi", "times": 2}
    with pytest.raises(ValueError, match=r"invalid arguments for srv__echo: times: 0 is less than"):
        spec.validate({"text": "hi", "times": 0})
    with pytest.raises(ValueError, match=r"\(arguments\): 'text' is a required property"):
        spec.validate({})
