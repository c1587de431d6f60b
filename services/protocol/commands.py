"""Request bodies of the REST commands (router and mirror accept the same ones)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_PROMPT_CHARS = 200_000

NodeSelector = (
    Literal["all"] | Annotated[int, Field(ge=0)] | Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]
)


def unstorable_string(value: Any, path: str) -> str | None:
    """Where in value a string holds what no database keeps and no JSON encoder writes: a NUL byte
    (Postgres refuses it) or a lone surrogate.  None when every string, key and value, is clean."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{path} contains a NUL byte"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{path} contains a lone surrogate (invalid Unicode)"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unstorable_string(key, f"{path} key") or unstorable_string(item, f"{path}.{key!s}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_string(item, f"{path}[{index}]")
            if found:
                return found
    return None


class _Command(BaseModel):
    """Strict: a JSON value of the wrong type is refused, never coerced ("1", true or 1.0 for a count)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_strings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                found = unstorable_string(value, str(key))
                if found:
                    raise ValueError(found.encode("utf-8", "backslashreplace").decode("utf-8"))
        return data


class LaunchRequest(_Command):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"nodes": 2, "provider": "local", "runtime": "mock", "alias": "demo"}]}
    )

    nodes: Annotated[int, Field(ge=1, description="How many agent workers (nodes) to start.")]
    provider: str | None = Field(None, description="Provider id from GET /v1/providers; the first one if omitted.")
    runtime: str | None = Field(None, description="Agent runtime on each node: mock, shell, ...")
    alias: Annotated[str, Field(max_length=120)] | None = None
    system_prompt: Annotated[str, Field(max_length=MAX_PROMPT_CHARS)] | None = None
    provider_params: dict[str, Any] = Field(
        default_factory=dict, description="Values for the provider's launch fields."
    )
    runtime_params: dict[str, Any] = Field(default_factory=dict)
    agents_bundle: dict[str, str] | None = Field(
        None, description="Files (relative path → text) written into every node's workspace, e.g. AGENTS.md."
    )


class InjectRequest(_Command):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"nodes": "all", "content": "$ echo hello"},
                {"nodes": [0, 2], "content": "and now?", "mode": "steer"},
            ]
        }
    )

    nodes: NodeSelector = Field(description='"all", one node index, or a list of indexes.')
    content: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)]
    mode: Literal["queue", "steer"] = "queue"

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content is blank; send the prompt text to inject")
        return value


class TerminateRequest(_Command):
    model_config = ConfigDict(json_schema_extra={"examples": [{"download_workspaces": True}]})

    download_workspaces: bool = False


class ApprovalRequest(_Command):
    model_config = ConfigDict(json_schema_extra={"examples": [{"node_id": 0, "decision": "accept"}]})

    node_id: Annotated[int, Field(ge=0)]
    decision: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z]+$",
            description="One of the request's available_decisions: accept, acceptForSession, decline, cancel, ...",
        ),
    ]


class InterruptRequest(_Command):
    model_config = ConfigDict(json_schema_extra={"examples": [{"nodes": "all"}]})

    nodes: NodeSelector = Field(description='"all", one node index, or a list of indexes.')
