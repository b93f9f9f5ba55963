"""MCP prompt templates, one file each under `prompts/`, loaded at start.

A file is a small header between `---` lines (`name:`, `title:`, `description:`, and one
`argument: name | required|optional | description` line per argument) and a body in which
`{{argument}}` is replaced by the value given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    body: str
    arguments: list[PromptArgument] = field(default_factory=list)

    def render(self, **values: str) -> str:
        def fill(match: re.Match[str]) -> str:
            value = values.get(match.group(1))
            return value.strip() if value and value.strip() else "(not given)"

        return _PLACEHOLDER.sub(fill, self.body).strip() + "\n"


def prompts_dir() -> Path:
    """Inside the wheel the files sit in the package; in a source checkout, at the top level."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "prompts", here.parent / "prompts"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the prompts/ folder is missing from this installation")


def parse_template(text: str, source: str) -> Template:
    match = re.match(r"\A---\n(.*?)\n---\n(.*)\Z", text, re.DOTALL)
    if match is None:
        raise ValueError(f"{source}: a prompt file starts with a header between --- lines")
    header, body = match.groups()
    meta: dict[str, str] = {}
    arguments: list[PromptArgument] = []
    for line in header.splitlines():
        if not line.strip():
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "argument":
            name, need, description = (part.strip() for part in [*value.split("|", 2), "", ""][:3])
            arguments.append(PromptArgument(name=name, description=description, required=need == "required"))
        else:
            meta[key] = value
    for key in ("name", "title", "description"):
        if not meta.get(key):
            raise ValueError(f"{source}: the header has no {key}")
    declared = {a.name for a in arguments}
    used = set(_PLACEHOLDER.findall(body))
    if used - declared:
        raise ValueError(f"{source}: the body uses undeclared arguments {sorted(used - declared)}")
    return Template(meta["name"], meta["title"], meta["description"], body, arguments)


def load_templates(folder: Path | None = None) -> list[Template]:
    folder = folder or prompts_dir()
    return [parse_template(p.read_text(encoding="utf-8"), p.name) for p in sorted(folder.glob("*.md"))]


def register_prompts(server: MCPServer[object]) -> None:
    for template in load_templates():

        def render(_template: Template = template, **values: str) -> str:
            return _template.render(**values)

        server.add_prompt(
            Prompt(
                name=template.name,
                title=template.title,
                description=template.description,
                arguments=template.arguments,
                fn=render,
                context_kwarg=None,
            )
        )
