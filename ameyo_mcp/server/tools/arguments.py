"""A model's argument mistakes: harmless spellings accepted, the rest explained in one short sentence
per argument (which one, what was wrong, what to send), never as validator text with library links.

`ExplainedTool` is the SDK's `Tool` with this in front of its own validation (and the warnings
logged during the call passed on to the client, and a question to the person ending the call as an
input_required result: see `CallEnding`); `build_tools` makes every tool one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult
from pydantic import ValidationError

from ...rules.sanitize import data_text
from ..notices import forwarded
from .common import ENDING, CallEnding

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

MAX_ERROR_CHARS = 1000
MAX_SENTENCES = 6
Schema = dict[str, Any]


class ExplainedTool(Tool):
    """A tool that forgives harmless spellings and explains the rest of a model's mistakes."""

    async def run(
        self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False
    ) -> Any:
        schema = self.parameters  # inlined by `catalog.built_tool`: `explain` follows no `$ref`
        arguments = tolerant(arguments, schema)
        problems = unexpected(arguments, schema)
        if problems:
            raise ToolError(_message(self.name, problems))
        ending = CallEnding()
        try:
            async with forwarded(context, _log_threshold(context)):
                with ending.scope:
                    token = ENDING.set(ending)
                    try:
                        result = await super().run(arguments, context, convert_result=False)
                    finally:
                        ENDING.reset(token)
                    if isinstance(result, CallToolResult) or not convert_result:
                        # The tools' answers are made from their validated output models
                        # (`common.answer`): the SDK's check of the same data against the same
                        # model would be a second validation of every answer.
                        return result
                    try:
                        return self.fn_metadata.convert_result(result)
                    except Exception as exc:
                        raise UnexpectedToolError(f"Error executing tool {self.name}") from exc
        except ToolError as exc:
            # Only the arguments' validation raises a plain ToolError caused by a ValidationError; a
            # crash inside the tool is an UnexpectedToolError and keeps its generic text.
            if isinstance(exc, UnexpectedToolError) or not isinstance(exc.__cause__, ValidationError):
                raise
            # Chained to the ValidationError: the SDK then logs only the field names.
            raise ToolError(_message(self.name, explain(exc.__cause__, schema))) from exc.__cause__
        # Only a question to the person cancels this scope: the call ends with it as its result,
        # and the client calls again with the answer.
        if ending.question is None:  # pragma: no cover - nothing else cancels it
            raise RuntimeError("a tool call ended without its result")
        return ending.question


def _log_threshold(context: Context[Any, Any]) -> str:
    try:
        state = context.request_context.lifespan_context
    except ValueError:  # called outside a request: nobody to send log notifications to
        return "emergency"
    return str(getattr(state, "client_log_level", "debug"))


def _types(schema: Schema) -> set[str]:
    kind = schema.get("type")
    found = {kind} if isinstance(kind, str) else set(kind or ())
    for option in schema.get("anyOf", ()):
        found |= _types(option)
    return found


def _object_schema(schema: Schema) -> Schema | None:
    if "properties" in schema:
        return schema
    return next((o for o in schema.get("anyOf", ()) if "properties" in o), None)


def _array_schema(schema: Schema) -> Schema | None:
    if "array" in _types(schema) and "items" in schema:
        return schema
    return next((o for o in schema.get("anyOf", ()) if "items" in o), None)


def tolerant(value: Any, schema: Schema) -> Any:
    """The arguments with harmless spellings made right: a null for an optional argument left out
    (and a null field of a record, `"email": null`: no value, as an empty cell of a file), a whole
    number where text is expected (a phone, a campaign's id) made text, one value where a list is
    expected wrapped."""
    kinds = _types(schema)
    extra = schema.get("additionalProperties")
    if isinstance(value, dict) and "properties" not in schema and isinstance(extra, dict):
        nullable = "null" in _types(extra)
        return {k: tolerant(v, extra) for k, v in value.items() if v is not None or nullable}
    if isinstance(value, dict) and (obj := _object_schema(schema)) is not None:
        required = set(obj.get("required", ()))
        props: dict[str, Schema] = obj["properties"]
        return {
            k: tolerant(v, props[k]) if k in props else v
            for k, v in value.items()
            if not (v is None and k not in required and "null" not in _types(props.get(k, {})))
        }
    if isinstance(value, list) and (arr := _array_schema(schema)) is not None:
        return [tolerant(item, arr["items"]) for item in value]
    if kinds and "array" in kinds and not isinstance(value, list | dict) and value is not None:
        arr = _array_schema(schema)
        return [tolerant(value, arr["items"]) if arr else value]
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and kinds & {"string"}
        and not kinds & {"integer", "number"}
    ):
        # A client that keeps every JSON number as a double (Gemini's function calls come so) sends
        # campaign 1 as 1.0: a whole one is the same text; 1.5 is refused as no campaign or phone.
        if isinstance(value, int):
            return str(value)
        if value.is_integer():
            return str(int(value))
    return value


def unexpected(arguments: dict[str, Any], schema: Schema) -> list[str]:
    """Arguments the tool does not take (a misspelt filter would otherwise be dropped unseen), and
    NUL characters, which no argument can mean."""
    props: dict[str, Schema] = schema.get("properties", {})
    problems = []
    unknown = [k for k in arguments if k not in props]
    if unknown:
        names = ", ".join(data_text(k, 30) for k in unknown[:5])
        problems.append(
            f"{names} {'is not an argument' if len(unknown) == 1 else 'are not arguments'} of this tool; "
            f"its arguments are {', '.join(props)}"
        )
    for key, value in arguments.items():
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            problems.append(f"{data_text(key, 30)} contains a NUL character; send plain text")
    return problems


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(data_text(value, 30))
    if isinstance(value, bool) or value is None:
        return "null" if value is None else str(value).lower()
    if isinstance(value, int | float):
        return data_text(value, 30)
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _step(schema: Schema, part: str | int) -> tuple[Schema | None, str | None]:
    """Follow one step of an error location: the schema there and how the step is written, or no
    text for pydantic's own steps (the member of a union it tried)."""
    if isinstance(part, int) and (arr := _array_schema(schema)) is not None:
        return arr["items"], f"[{part}]"
    obj = _object_schema(schema)
    if obj is not None and part in obj["properties"]:
        return obj["properties"][part], f".{part}"
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and isinstance(part, str):
        return extra, f"[{data_text(part, 30)!r}]"
    return schema, None


def _problem(kind: str, ctx: dict[str, Any], value: Any, schema: Schema, msg: str) -> str:
    got = _shown(value)
    if kind == "missing" or (value is None and kind.endswith("_type")):
        description = schema.get("description")
        return "is required" + (f": {description}" if description else "")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, not {got}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, not {got}"
    if kind == "string_type":
        return f"must be text, not {got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, not {got}"
    if kind == "list_type":
        return f"must be a list, e.g. [...], not {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be an object of names and values, not {got}"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        return f"must be {'at most' if kind == 'less_than_equal' else 'below'} {bound}, not {got}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return f"must be {'at least' if kind == 'greater_than_equal' else 'above'} {bound}, not {got}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters (it has {len(str(value))})"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_long":
        return f"takes at most {ctx.get('max_length')} items (it has {ctx.get('actual_length')}); send fewer"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "value_error" and ctx.get("error") is not None:  # our own checks' sentence
        return f"is refused: {data_text(ctx['error'], 200).rstrip('.')}"
    return data_text(msg, 120).rstrip(".")


def explain(error: ValidationError, schema: Schema) -> list[str]:
    """One sentence per argument: the first problem found for it, its path written as a model
    would write it (records[3].callback_time)."""
    chosen: dict[str, tuple[int, str]] = {}
    for item in error.errors(include_url=False):
        node: Schema | None = schema
        path = ""
        for part in item["loc"]:
            node, text = _step(node or {}, part)
            path += text or ""
        path = path.lstrip(".") or "the arguments"
        kind = item["type"]
        sentence = (
            f"{path} {_problem(kind, item.get('ctx') or {}, item.get('input'), node or {}, item['msg'])}"
        )
        # Of a union's several complaints, the one that got furthest says the most (1.5 for a
        # campaign: "a whole number", rather than "text").
        rank = 1 if kind.endswith("_type") else 0
        if path not in chosen or rank < chosen[path][0]:
            chosen[path] = (rank, sentence)
    return [sentence for _, sentence in chosen.values()]


def _message(tool: str, problems: list[str]) -> str:
    shown = problems[:MAX_SENTENCES]
    more = len(problems) - len(shown)
    text = f"Invalid arguments for {tool}: " + " ".join(f"{p}." for p in shown)
    if more:
        text += f" And {more} more problem{'s' if more > 1 else ''} like these."
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1].rstrip() + "…"
    return text
