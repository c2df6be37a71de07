"""A small, safe filter language over the videos frame.

Users pick the groups of an A/B test (and other filters) with expressions such as::

    title contains '?'
    format = short
    published_at < 2025-06-01
    duration > 600 and tag_count >= 5
    not (title contains 'vs') and weekday in (sat, sun)

Grammar (keywords are case-insensitive)::

    query      := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | primary
    primary    := "(" or_expr ")" | comparison
    comparison := FIELD OP value | FIELD "in" "(" value ("," value)* ")"
    OP         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "contains" | "startswith"
    value      := 'quoted' | "quoted" | NUMBER | DATE | bare_word

FIELD comes from a fixed whitelist (:data:`FIELDS`); each field has a kind that decides which
operators and literals it accepts, checked while parsing so that mistakes are reported before any
data is touched. The text is tokenised and parsed into a tree that is evaluated with pandas
operations: it is never passed to ``eval`` and never pasted into SQL.

Semantics, chosen to be unsurprising for people rather than for databases:

* text comparisons ignore case; ``contains``/``startswith`` match literally (no wildcards);
* a date literal without a time (``2025-06-01``) compares the UTC calendar day, so
  ``published_at <= 2025-06-01`` includes all of that day;
* a comparison involving a missing value (hidden likes, unknown duration) is false, and ``not``
  inverts a whole mask: ``not (likes > 10)`` keeps the videos with hidden likes.

Every mistake raises :class:`QuerySyntaxError` (an :class:`~tubescope.errors.InvalidQuery`) that
names the 1-based column and what was expected there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

import numpy as np
import pandas as pd

from tubescope.errors import InvalidQuery, QuerySyntaxError

MAX_QUERY_LENGTH: Final = 2000
MAX_NESTING: Final = 50


class FieldKind(StrEnum):
    """The type of value a query field holds, which decides the operators it accepts."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"


WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _text_column(column: str) -> Callable[[pd.DataFrame], pd.Series]:
    def extract(videos: pd.DataFrame) -> pd.Series:
        return videos[column].astype("string")

    return extract


def _number_column(column: str) -> Callable[[pd.DataFrame], pd.Series]:
    def extract(videos: pd.DataFrame) -> pd.Series:
        return pd.to_numeric(videos[column], errors="coerce").astype("float64")

    return extract


def _published(videos: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(videos["published_at"], utc=True, errors="coerce")


def _title_length(videos: pd.DataFrame) -> pd.Series:
    return videos["title"].astype("string").str.len().astype("float64")


def _weekday(videos: pd.DataFrame) -> pd.Series:
    days = _published(videos).dt.day_of_week
    names = pd.Series(pd.NA, index=videos.index, dtype="string")
    known = days.notna()
    names[known] = [WEEKDAYS[int(day)] for day in days[known]]
    return names


def _hour(videos: pd.DataFrame) -> pd.Series:
    hours: pd.Series = _published(videos).dt.hour.astype("float64")
    return hours


@dataclass(frozen=True)
class FieldSpec:
    """One filterable field: what it means, where it comes from, what it accepts."""

    name: str
    kind: FieldKind
    source_column: str
    description: str
    extract: Callable[[pd.DataFrame], pd.Series]
    choices: tuple[str, ...] = ()


FIELDS: Final[dict[str, FieldSpec]] = {
    spec.name: spec
    for spec in (
        FieldSpec("title", FieldKind.TEXT, "title", "video title", _text_column("title")),
        FieldSpec("tags", FieldKind.TEXT, "tags", "tags joined by '|'", _text_column("tags")),
        FieldSpec("category", FieldKind.TEXT, "category_id", "category id", _text_column("category_id")),
        FieldSpec("video_id", FieldKind.TEXT, "video_id", "video id", _text_column("video_id")),
        FieldSpec("channel_id", FieldKind.TEXT, "channel_id", "channel id", _text_column("channel_id")),
        FieldSpec(
            "format",
            FieldKind.CHOICE,
            "video_format",
            "short, long or live",
            _text_column("video_format"),
            ("short", "long", "live"),
        ),
        FieldSpec(
            "duration",
            FieldKind.NUMBER,
            "duration_seconds",
            "duration in seconds",
            _number_column("duration_seconds"),
        ),
        FieldSpec("tag_count", FieldKind.NUMBER, "tag_count", "number of tags", _number_column("tag_count")),
        FieldSpec("views", FieldKind.NUMBER, "view_count", "latest views", _number_column("view_count")),
        FieldSpec("likes", FieldKind.NUMBER, "like_count", "latest likes", _number_column("like_count")),
        FieldSpec(
            "comments", FieldKind.NUMBER, "comment_count", "latest comments", _number_column("comment_count")
        ),
        FieldSpec("title_length", FieldKind.NUMBER, "title", "characters in the title", _title_length),
        FieldSpec("published_at", FieldKind.DATE, "published_at", "publication time (UTC)", _published),
        FieldSpec(
            "weekday", FieldKind.CHOICE, "published_at", "publication weekday (UTC)", _weekday, WEEKDAYS
        ),
        FieldSpec("hour", FieldKind.NUMBER, "published_at", "publication hour 0-23 (UTC)", _hour),
    )
}
"""The whitelist of fields; nothing else can be named in a query."""

FIELD_ALIASES: Final[dict[str, str]] = {
    "video_format": "format",
    "duration_seconds": "duration",
    "view_count": "views",
    "like_count": "likes",
    "comment_count": "comments",
    "category_id": "category",
    "published": "published_at",
    "tag": "tags",
}

OPERATORS_BY_KIND: Final[dict[FieldKind, frozenset[str]]] = {
    FieldKind.TEXT: frozenset({"=", "!=", "contains", "startswith", "in"}),
    FieldKind.NUMBER: frozenset({"=", "!=", "<", "<=", ">", ">=", "in"}),
    FieldKind.DATE: frozenset({"=", "!=", "<", "<=", ">", ">="}),
    FieldKind.CHOICE: frozenset({"=", "!=", "in"}),
}

KEYWORDS: Final = frozenset({"and", "or", "not", "in", "contains", "startswith"})


# ---------------------------------------------------------------------------------------------
# Tree


@dataclass(frozen=True)
class DateLiteral:
    """A point in time; ``day_only`` when written without a time (compares calendar days)."""

    timestamp: pd.Timestamp
    day_only: bool

    def render(self) -> str:
        """The literal as the query language writes it."""
        if self.day_only:
            return str(self.timestamp.strftime("%Y-%m-%d"))
        return str(self.timestamp.isoformat())


Scalar: TypeAlias = str | float | DateLiteral


@dataclass(frozen=True)
class Comparison:
    """A single ``field operator value`` condition of a query."""

    field: str
    operator: str
    value: Scalar | tuple[Scalar, ...]
    column: int


@dataclass(frozen=True)
class And:
    """A conjunction: every operand must hold."""

    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """A disjunction: at least one operand must hold."""

    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """A negation of its operand."""

    operand: Node


Node: TypeAlias = Comparison | And | Or | Not


def _render_scalar(value: Scalar) -> str:
    if isinstance(value, DateLiteral):
        return value.render()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(node: Node) -> str:
    """Canonical text of a tree; parsing it again gives the same tree (up to columns)."""
    if isinstance(node, Comparison):
        if isinstance(node.value, tuple):
            values = ", ".join(_render_scalar(v) for v in node.value)
            return f"{node.field} in ({values})"
        return f"{node.field} {node.operator} {_render_scalar(node.value)}"
    if isinstance(node, Not):
        return f"not ({render(node.operand)})"
    joiner = " and " if isinstance(node, And) else " or "
    return joiner.join(f"({render(operand)})" for operand in node.operands)


def _fields_of(node: Node) -> frozenset[str]:
    if isinstance(node, Comparison):
        return frozenset({node.field})
    if isinstance(node, Not):
        return _fields_of(node.operand)
    return frozenset().union(*(_fields_of(operand) for operand in node.operands))


@dataclass(frozen=True)
class Query:
    """A parsed filter: the user's text and its checked tree."""

    text: str
    root: Node

    @property
    def fields(self) -> frozenset[str]:
        """Canonical names of the fields the query mentions."""
        return _fields_of(self.root)

    def canonical(self) -> str:
        """The query in canonical text form (the same query always renders the same)."""
        return render(self.root)

    def mask(self, videos: pd.DataFrame) -> pd.Series:
        """A boolean Series aligned with ``videos.index``: True where the video matches."""
        return evaluate(self.root, videos)

    def __str__(self) -> str:
        return self.text.strip()


# ---------------------------------------------------------------------------------------------
# Tokens


class TokenKind(StrEnum):
    """The kinds of token the query lexer produces."""

    WORD = "word"
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    OPERATOR = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end"


@dataclass(frozen=True)
class Token:
    """One lexed token with its text, parsed value and column (for error messages)."""

    kind: TokenKind
    text: str
    value: str
    column: int

    def describe(self) -> str:
        """The token as an error message names it."""
        if self.kind is TokenKind.END:
            return "end of input"
        return repr(self.text)


_DATE_RE: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w:.-])",
    re.ASCII,
)
_NUMBER_RE: Final = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_WORD_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_OPERATORS: Final = ("==", "!=", "<>", "<=", ">=", "=", "<", ">")


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; raises :class:`QuerySyntaxError` on anything unknown."""
    tokens: list[Token] = []
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        column = position + 1
        if char.isspace():
            position += 1
            continue
        if char in "(),":
            kind = {"(": TokenKind.LPAREN, ")": TokenKind.RPAREN, ",": TokenKind.COMMA}[char]
            tokens.append(Token(kind, char, char, column))
            position += 1
            continue
        if char in "'\"":
            value, position = _read_string(text, position)
            tokens.append(Token(TokenKind.STRING, text[column - 1 : position], value, column))
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, position)), None)
        if operator is not None:
            canonical = {"==": "=", "<>": "!="}.get(operator, operator)
            tokens.append(Token(TokenKind.OPERATOR, operator, canonical, column))
            position += len(operator)
            continue
        date_match = _DATE_RE.match(text, position)
        if date_match:
            tokens.append(Token(TokenKind.DATE, date_match.group(), date_match.group(), column))
            position = date_match.end()
            continue
        number_match = _NUMBER_RE.match(text, position)
        if number_match:
            end = number_match.end()
            if end < length and (text[end].isalnum() or text[end] in "_.-"):
                raise QuerySyntaxError(
                    text, end + 1, f"expected a number, a date or a space after {number_match.group()!r}"
                )
            tokens.append(Token(TokenKind.NUMBER, number_match.group(), number_match.group(), column))
            position = end
            continue
        word_match = _WORD_RE.match(text, position)
        if word_match:
            tokens.append(Token(TokenKind.WORD, word_match.group(), word_match.group(), column))
            position = word_match.end()
            continue
        raise QuerySyntaxError(
            text, column, f"expected a field, value, operator or parenthesis, not {char!r}"
        )
    tokens.append(Token(TokenKind.END, "", "", length + 1))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    chars: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text):
            chars.append(text[position + 1])
            position += 2
            continue
        if char == quote:
            return "".join(chars), position + 1
        chars.append(char)
        position += 1
    raise QuerySyntaxError(text, start + 1, f"expected a closing {quote} for the string starting")


# ---------------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def _kind(self) -> TokenKind:
        # A method, not a property, so that type narrowing does not survive ``advance()``.
        return self.tokens[self.index].kind

    def error(self, expected: str, token: Token | None = None) -> QuerySyntaxError:
        at = token or self.current
        return QuerySyntaxError(self.text, at.column, expected, at.describe())

    def advance(self) -> Token:
        token = self.current
        if token.kind is not TokenKind.END:
            self.index += 1
        return token

    def is_keyword(self, keyword: str) -> bool:
        return self._kind() is TokenKind.WORD and self.current.value.lower() == keyword

    def parse(self) -> Node:
        if self._kind() is TokenKind.END:
            raise self.error("expected a filter such as \"title contains '?'\"")
        node = self.parse_or()
        if self._kind() is not TokenKind.END:
            if self._kind() is TokenKind.RPAREN:
                raise self.error("expected 'and', 'or' or the end; this ')' has no matching '('")
            raise self.error("expected 'and', 'or' or the end of the filter")
        return node

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"expected at most {MAX_NESTING} nested 'not's or parentheses")

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.is_keyword("or"):
            self.advance()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_not()]
        while self.is_keyword("and"):
            self.advance()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_not(self) -> Node:
        if self.is_keyword("not"):
            self.advance()
            self._enter()
            node = Not(self.parse_not())
            self.depth -= 1
            return node
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.current
        if token.kind is TokenKind.LPAREN:
            self.advance()
            self._enter()
            node = self.parse_or()
            self.depth -= 1
            if self._kind() is not TokenKind.RPAREN:
                raise self.error(f"expected ')' to close the '(' at column {token.column}")
            self.advance()
            return node
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        token = self.current
        if token.kind is not TokenKind.WORD or token.value.lower() in KEYWORDS:
            raise self.error(f"expected a field name ({', '.join(FIELDS)})")
        name = token.value.lower()
        name = FIELD_ALIASES.get(name, name)
        spec = FIELDS.get(name)
        if spec is None:
            raise self.error(f"expected a known field ({', '.join(FIELDS)})")
        self.advance()
        operator_token = self.current
        operator = self._read_operator()
        if operator is None:
            raise self.error(f"expected an operator after {token.text!r}")
        allowed = OPERATORS_BY_KIND[spec.kind]
        if operator not in allowed:
            raise self.error(
                f"expected one of {', '.join(sorted(allowed))} for the {spec.kind} field {name!r}",
                operator_token,
            )
        if operator == "in":
            return Comparison(name, "in", self._parse_value_list(spec), token.column)
        return Comparison(name, operator, self._parse_value(spec, operator_token.text), token.column)

    def _read_operator(self) -> str | None:
        token = self.current
        if token.kind is TokenKind.OPERATOR:
            self.advance()
            return token.value
        if token.kind is TokenKind.WORD and token.value.lower() in {"contains", "startswith", "in"}:
            self.advance()
            return token.value.lower()
        return None

    def _parse_value_list(self, spec: FieldSpec) -> tuple[Scalar, ...]:
        if self._kind() is not TokenKind.LPAREN:
            raise self.error("expected '(' and a list of values after 'in'")
        self.advance()
        values = [self._parse_value(spec, "(")]
        while self._kind() is TokenKind.COMMA:
            self.advance()
            values.append(self._parse_value(spec, ","))
        if self._kind() is not TokenKind.RPAREN:
            raise self.error("expected ',' or ')' in the list of values")
        self.advance()
        return tuple(values)

    def _parse_value(self, spec: FieldSpec, after: str) -> Scalar:
        token = self.current
        if token.kind in {TokenKind.END, TokenKind.LPAREN, TokenKind.RPAREN, TokenKind.COMMA} or (
            token.kind is TokenKind.WORD and token.value.lower() in {"and", "or", "not"}
        ):
            raise self.error(f"expected a value after {after!r}")
        if token.kind is TokenKind.OPERATOR:
            raise self.error(f"expected a value after {after!r}")
        self.advance()
        kind = spec.kind
        if kind is FieldKind.NUMBER:
            if token.kind is TokenKind.NUMBER:
                number = float(token.value)
                if not np.isfinite(number):
                    raise self.error("expected a finite number", token)
                return number
            raise self.error(f"expected a number for {spec.name!r}", token)
        if kind is FieldKind.DATE:
            if token.kind in {TokenKind.DATE, TokenKind.STRING}:
                return self._date(token)
            raise self.error(f"expected a date like 2025-06-01 for {spec.name!r}", token)
        if token.kind is TokenKind.DATE and kind is FieldKind.CHOICE:
            raise self.error(f"expected one of {', '.join(spec.choices)} for {spec.name!r}", token)
        text = token.value
        if kind is FieldKind.CHOICE:
            if text.lower() not in spec.choices:
                raise self.error(f"expected one of {', '.join(spec.choices)} for {spec.name!r}", token)
            return text.lower()
        return text

    def _date(self, token: Token) -> DateLiteral:
        raw = token.value.strip()
        if not _DATE_RE.fullmatch(raw):
            raise self.error("expected a date like 2025-06-01 or 2025-06-01T12:00Z", token)
        try:
            stamp = pd.Timestamp(raw)
        except (ValueError, OverflowError):
            raise self.error("expected a real calendar date like 2025-06-01", token) from None
        if pd.isna(stamp):
            raise self.error("expected a real calendar date like 2025-06-01", token)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return DateLiteral(stamp, day_only=len(raw) == 10)


def parse_query(text: str) -> Query:
    """Parse and check a filter expression; raises :class:`QuerySyntaxError` when it is invalid."""
    if not isinstance(text, str):
        raise InvalidQuery(f"a filter must be text, not {type(text).__name__}")
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(text, MAX_QUERY_LENGTH + 1, f"expected at most {MAX_QUERY_LENGTH} characters")
    return Query(text, _Parser(text).parse())


# ---------------------------------------------------------------------------------------------
# Evaluation


def evaluate(node: Node, videos: pd.DataFrame) -> pd.Series:
    """Boolean mask of ``videos`` rows matching ``node`` (missing values never match a comparison)."""
    if isinstance(node, Comparison):
        return _compare(node, videos)
    if isinstance(node, Not):
        return ~evaluate(node.operand, videos)
    masks = [evaluate(operand, videos) for operand in node.operands]
    combined = masks[0].copy()
    for mask in masks[1:]:
        combined = combined & mask if isinstance(node, And) else combined | mask
    return combined


def _compare(node: Comparison, videos: pd.DataFrame) -> pd.Series:
    spec = FIELDS[node.field]
    if spec.source_column not in videos.columns:
        raise InvalidQuery(
            f"field {node.field!r} needs the column {spec.source_column!r}, which these videos lack"
        )
    values = spec.extract(videos)
    present = values.notna().to_numpy(dtype=bool)
    result = _compare_present(spec, node, values)
    return pd.Series(result & present, index=videos.index, dtype=bool)


def _compare_present(spec: FieldSpec, node: Comparison, values: pd.Series) -> np.ndarray:
    operator, literal = node.operator, node.value
    if spec.kind is FieldKind.NUMBER:
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        if isinstance(literal, tuple):
            return np.isin(numbers, np.array(literal, dtype="float64"))
        assert isinstance(literal, float)
        return _ordered(numbers, operator, literal)
    if spec.kind is FieldKind.DATE:
        assert isinstance(literal, DateLiteral)
        stamps = pd.to_datetime(values, utc=True)
        if literal.day_only:
            stamps = stamps.dt.normalize()
        naive = stamps.dt.tz_localize(None).dt.as_unit("ns")
        # NaT becomes the smallest int64 here; the caller masks missing values out anyway.
        epoch_ns = naive.to_numpy(dtype="datetime64[ns]").view("int64")
        return _ordered(epoch_ns, operator, literal.timestamp.value)
    text = values.fillna("").str.lower()
    if isinstance(literal, tuple):
        wanted = {str(v).lower() for v in literal}
        return text.isin(wanted).to_numpy(dtype=bool)
    needle = str(literal).lower()
    if operator == "contains":
        return text.str.contains(needle, regex=False).to_numpy(dtype=bool)
    if operator == "startswith":
        return text.str.startswith(needle).to_numpy(dtype=bool)
    equal = (text == needle).to_numpy(dtype=bool)
    return equal if operator == "=" else ~equal


def _ordered(values: np.ndarray, operator: str, literal: float | int) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if operator == "=":
            return np.asarray(values == literal)
        if operator == "!=":
            return np.asarray(values != literal)
        if operator == "<":
            return np.asarray(values < literal)
        if operator == "<=":
            return np.asarray(values <= literal)
        if operator == ">":
            return np.asarray(values > literal)
        return np.asarray(values >= literal)


def describe_fields() -> list[dict[str, str]]:
    """The whitelist as rows (name, kind, meaning, operators) for help texts."""
    return [
        {
            "name": spec.name,
            "kind": str(spec.kind),
            "meaning": spec.description,
            "operators": " ".join(sorted(OPERATORS_BY_KIND[spec.kind])),
        }
        for spec in FIELDS.values()
    ]
