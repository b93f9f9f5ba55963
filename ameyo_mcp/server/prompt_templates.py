"""MCP prompt templates, one file each under `prompts/`, loaded at start.

A file is a small header between `---` lines (`name:`, `title:`, `description:`, and one
`argument: name | required|optional | description` line per argument) and a body in which
`{{argument}}` is replaced by the value given. Text between `{{#writes}}` and `{{/writes}}` is
left out when the server is read-only, and a header line `needs: writes` leaves the whole prompt out.
A header line `attach: NAME` adds, after the text, the messages the server's attachment of that name
makes from the arguments (`calls_chart`: a chart of today's calls).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import Message, Prompt, PromptArgument, UserMessage
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, ContentBlock, InputRequiredResult
from pydantic import Field

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_WRITES = re.compile(r"\{\{#writes\}\}(.*?)\{\{/writes\}\}", re.DOTALL)


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    body: str
    arguments: list[PromptArgument] = field(default_factory=list)
    needs_writes: bool = False
    attach: str | None = None

    def render(self, *, read_only: bool = False, **values: str) -> str:
        def fill(match: re.Match[str]) -> str:
            value = values.get(match.group(1))
            return value.strip() if value and value.strip() else "(not given)"

        body = _WRITES.sub("" if read_only else r"\1", self.body)
        return _PLACEHOLDER.sub(fill, body).strip() + "\n"


# Content made for a prompt from its request's context and arguments, shown after its text.
Attachment = Callable[[Any, Mapping[str, str]], Awaitable[list[ContentBlock]]]


class TemplatePrompt(Prompt):
    """A prompt whose caller's mistakes (a required argument missing, one it does not take) are
    answered as invalid parameters in one sentence, not as an internal error with a traceback."""

    attach: Attachment | None = Field(default=None, exclude=True)

    async def render(
        self, arguments: dict[str, Any] | None, context: Any
    ) -> list[Message] | InputRequiredResult:
        given = arguments or {}
        declared = {a.name: a for a in self.arguments or []}
        missing = [a for a in declared.values() if a.required and not str(given.get(a.name) or "").strip()]
        unknown = sorted(set(given) - set(declared))
        if missing or unknown:
            problems = [f"it needs {a.name} ({a.description or 'required'})" for a in missing]
            if unknown:
                problems.append(f"it takes no {', '.join(unknown[:5])[:100]}")
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Prompt {self.name}: {'; '.join(problems)}. Its arguments are "
                + ", ".join(f"{n} ({'required' if a.required else 'optional'})" for n, a in declared.items()),
            )
        messages = await super().render(given, context)
        if self.attach is None or isinstance(messages, InputRequiredResult):
            return messages
        extra = await self.attach(context, {k: str(v) for k, v in given.items()})
        return [*messages, *(UserMessage(block) for block in extra)]


def prompts_dir() -> Path:
    """Inside the wheel the files sit in the package; in a source checkout, at the top level."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "prompts", here.parent.parent / "prompts"):
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
    needs = {n.strip() for n in meta.get("needs", "").split(",") if n.strip()}
    if needs - {"writes"}:
        raise ValueError(f"{source}: unknown needs {sorted(needs - {'writes'})}")
    return Template(
        meta["name"],
        meta["title"],
        meta["description"],
        body,
        arguments,
        "writes" in needs,
        meta.get("attach") or None,
    )


def load_templates(folder: Path | None = None) -> list[Template]:
    folder = folder or prompts_dir()
    return [parse_template(p.read_text(encoding="utf-8"), p.name) for p in sorted(folder.glob("*.md"))]


def register_prompts(
    server: MCPServer[object],
    *,
    read_only: bool = False,
    attachments: Mapping[str, Attachment] | None = None,
) -> list[Template]:
    """Offer every template the server can follow through (in read-only mode, none that writes),
    each with the attachment its header names."""
    offered = [t for t in load_templates() if not (read_only and t.needs_writes)]
    known = attachments or {}
    for template in offered:
        if template.attach is not None and template.attach not in known:
            raise ValueError(f"prompt {template.name}: no attachment named {template.attach!r}")

        def render(_template: Template = template, **values: str) -> str:
            return _template.render(read_only=read_only, **values)

        server.add_prompt(
            TemplatePrompt(
                name=template.name,
                title=template.title,
                description=template.description,
                arguments=template.arguments,
                fn=render,
                context_kwarg=None,
                attach=known.get(template.attach) if template.attach else None,
            )
        )
    return offered
