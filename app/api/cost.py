"""What a document costs, computed once per fragment, and the limits on it.

A fragment may spread another twice, that one spreads the next twice, and so on:
30 such fragments in 1.5 KB select 2^30 fields. A walk that expands every spread
where it stands (strawberry's QueryDepthLimiter and MaxAliasesLimiter do) runs
as long as the expansion; here each fragment's cost is computed once and reused
wherever it is spread, so the walk is linear in the document while the figures
are those of the expanded operation, fan-out included:

    fields     fields selected once fragments are expanded (MAX_QUERY_COST)
    depth      nested selection sets, introspection fields aside (MAX_QUERY_DEPTH)
    aliases    aliased fields once fragments are expanded (MAX_ALIASES)
    top        top-level fields of a mutation, __typename aside (MAX_MUTATIONS)
    repeats    the most times one response name is selected in one selection set
               (MAX_REPEATS): graphql-core checks that such fields can merge pair by pair,
               so 500 `config { chainId }` in 2,000 tokens cost 0.7 s of validation

`check` runs after parsing and before validation, so that a refused document
costs no more than reading it. Before parsing, `check_tokens` refuses brackets
nested deeper than the parser's recursion can take (the lexer does not recurse),
and integers longer than int() takes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Source,
    TokenKind,
)
from graphql.language.lexer import Lexer

MAX_REPEATS = 20  # a union's results may select `code` once per member type
MAX_INT_DIGITS = 78  # uint256; a GraphQL Int is 32 bits
MAX_NESTING = 64  # brackets of any kind: far deeper than MAX_QUERY_DEPTH allows selections to be
_OPENING = {TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L}
_CLOSING = {TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R}
_SHOWN_MAX = 10**15  # costs above this are shown as "over 10^15" (fan-out makes them astronomic)


@dataclass(frozen=True)
class Cost:
    fields: int = 0
    depth: int = 0
    aliases: int = 0
    top: int = 0
    repeats: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.fields + other.fields,
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.top + other.top,
            max(self.repeats, other.repeats),
        )


class DocumentCosts:
    """The costs of a document's selection sets; each fragment's computed once."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self._fragments = fragments
        self._costs: dict[str, tuple[Cost, Counter[str]]] = {}
        self._open: set[str] = set()  # fragments being costed: a cycle (refused by validation) costs 0

    def of(self, selections: SelectionSetNode) -> Cost:
        cost, names = self._merged(selections)
        return cost + Cost(repeats=max(names.values(), default=0))

    def _merged(self, selections: SelectionSetNode) -> tuple[Cost, Counter[str]]:
        """The cost of a selection set, and how many times it selects each response name
        (fragments merge into the set that spreads them, and are counted as often)."""
        total, names = Cost(), Counter[str]()
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection)
                names[(selection.alias or selection.name).value] += 1
            elif isinstance(selection, InlineFragmentNode):
                cost, inner = self._merged(selection.selection_set)
                total += cost
                names.update(inner)
            elif isinstance(selection, FragmentSpreadNode):
                cost, inner = self._fragment(selection.name.value)
                total += cost
                names.update(inner)
        return total, names

    def _field(self, field: FieldNode) -> Cost:
        inner = Cost() if field.selection_set is None else self.of(field.selection_set)
        introspection = field.name.value.startswith("__")
        return Cost(
            fields=1 + inner.fields,
            depth=0 if introspection or field.selection_set is None else 1 + inner.depth,
            aliases=(field.alias is not None) + inner.aliases,
            top=field.name.value != "__typename",
            repeats=inner.repeats,
        )

    def _fragment(self, name: str) -> tuple[Cost, Counter[str]]:
        known = self._costs.get(name)
        if known is not None:
            return known
        fragment = self._fragments.get(name)
        if fragment is None or name in self._open:
            return Cost(), Counter()
        self._open.add(name)
        known = self._merged(fragment.selection_set)
        self._open.discard(name)
        self._costs[name] = known
        return known


@dataclass(frozen=True)
class Limits:
    max_cost: int
    max_depth: int
    max_aliases: int
    max_mutations: int
    max_repeats: int = MAX_REPEATS


class OverLimit(GraphQLError):
    """An operation over one of the limits; its extensions carry the code."""


def check(document: DocumentNode, limits: Limits) -> None:
    """Raises OverLimit for the first operation of `document` over one of `limits`."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    costs = DocumentCosts(fragments)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            name = definition.name.value if definition.name else "anonymous"
            refusal = _refusal(costs.of(definition.selection_set), limits, name, definition)
            if refusal is not None:
                raise refusal


def _shown(count: int) -> str:
    return str(count) if count <= _SHOWN_MAX else "over 10^15"


def _refusal(cost: Cost, limits: Limits, name: str, node: OperationDefinitionNode) -> OverLimit | None:
    if cost.fields > limits.max_cost:
        return OverLimit(
            f"'{name}' selects {_shown(cost.fields)} fields once its fragments are expanded; at most "
            f"{limits.max_cost}: select fewer fields, or spread each fragment fewer times",
            node,
            extensions={"code": "QUERY_TOO_COMPLEX", "fields": {"maxCost": limits.max_cost}},
        )
    if cost.repeats > limits.max_repeats:
        return OverLimit(
            f"'{name}' selects one field {_shown(cost.repeats)} times in one selection set once its "
            f"fragments are expanded; at most {limits.max_repeats}: select each field once",
            node,
            extensions={"code": "QUERY_TOO_COMPLEX", "fields": {"maxRepeats": limits.max_repeats}},
        )
    if cost.depth > limits.max_depth:
        return OverLimit(
            f"'{name}' exceeds maximum operation depth of {limits.max_depth}: nest fewer selections",
            node,
            extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
        )
    if cost.aliases > limits.max_aliases:
        return OverLimit(
            f"{_shown(cost.aliases)} aliases found. Allowed: {limits.max_aliases} "
            "(fragments counted each time they are spread)",
            node,
            extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
        )
    if node.operation == OperationType.MUTATION and cost.top > limits.max_mutations:
        return OverLimit(
            f"{cost.top} mutation fields in one operation (aliases included); at most {limits.max_mutations}",
            node,
            extensions={"code": "TOO_MANY_MUTATIONS"},
        )
    return None


class TokensRefused(GraphQLError):
    """Brackets nested deeper than the parser's recursion can take, or an integer literal longer
    than int() takes (past 4,300 digits it raises ValueError, which would be masked as a bug)."""


def check_tokens(source: str, max_tokens: int, max_nesting: int = MAX_NESTING) -> None:
    """Raises TokensRefused if, in the first `max_tokens` tokens (those the parser reads before
    it refuses the document), brackets nest deeper than `max_nesting` or an integer has more than
    MAX_INT_DIGITS digits; GraphQLSyntaxError if they do not lex."""
    lexer = Lexer(Source(source))
    depth = 0
    token = lexer.advance()
    for _ in range(max_tokens + 1):
        if token.kind == TokenKind.EOF:
            return
        if token.kind in _OPENING:
            depth += 1
            if depth > max_nesting:
                raise TokensRefused(
                    f"brackets nested more than {max_nesting} deep: nest fewer selections, lists or objects",
                    extensions={"code": "GRAPHQL_PARSE_FAILED"},
                )
        elif token.kind in _CLOSING:
            depth -= 1
        elif token.kind == TokenKind.INT and len(token.value or "") > MAX_INT_DIGITS:
            raise TokensRefused(
                f"an integer of {len(token.value or '')} digits; at most {MAX_INT_DIGITS} "
                "(amounts are strings of digits)",
                extensions={"code": "GRAPHQL_PARSE_FAILED"},
            )
        token = lexer.advance()
