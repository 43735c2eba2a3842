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

Before a document is parsed, `check_nesting` refuses brackets nested deeper than
the parser's recursion can take (the lexer does not recurse).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
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
    ValidationRule,
)
from graphql.language.lexer import Lexer

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

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.fields + other.fields,
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.top + other.top,
        )


class DocumentCosts:
    """The costs of a document's selection sets; each fragment's computed once."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self._fragments = fragments
        self._costs: dict[str, Cost] = {}
        self._open: set[str] = set()  # fragments being costed: a cycle (refused by validation) costs 0

    def of(self, selections: SelectionSetNode) -> Cost:
        total = Cost()
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection)
            elif isinstance(selection, InlineFragmentNode):
                total += self.of(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value)
        return total

    def _field(self, field: FieldNode) -> Cost:
        name = field.name.value
        inner = Cost() if field.selection_set is None else self.of(field.selection_set)
        introspection = name.startswith("__")
        return Cost(
            fields=1 + inner.fields,
            depth=0 if introspection or field.selection_set is None else 1 + inner.depth,
            aliases=(field.alias is not None) + inner.aliases,
            top=name != "__typename",
        )

    def _fragment(self, name: str) -> Cost:
        cost = self._costs.get(name)
        if cost is not None:
            return cost
        fragment = self._fragments.get(name)
        if fragment is None or name in self._open:
            return Cost()
        self._open.add(name)
        cost = self.of(fragment.selection_set)
        self._open.discard(name)
        self._costs[name] = cost
        return cost


@dataclass(frozen=True)
class Limits:
    max_cost: int
    max_depth: int
    max_aliases: int
    max_mutations: int


def cost_rule(limits: Limits) -> type[ValidationRule]:
    """A validation rule refusing an operation over any of `limits` (see the module docstring)."""

    class CostLimits(ValidationRule):
        def enter_document(self, *_: Any) -> None:
            fragments = {
                d.name.value: d
                for d in self.context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            self.costs = DocumentCosts(fragments)

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            cost = self.costs.of(node.selection_set)
            name = node.name.value if node.name else "anonymous"
            for error in _refusals(cost, limits, name, node):
                self.report_error(error)

    return CostLimits


def _refusals(cost: Cost, limits: Limits, name: str, node: OperationDefinitionNode) -> list[GraphQLError]:
    errors = []
    if cost.fields > limits.max_cost:
        shown = str(cost.fields) if cost.fields <= _SHOWN_MAX else "over 10^15"
        errors.append(
            GraphQLError(
                f"'{name}' selects {shown} fields once its fragments are expanded; at most "
                f"{limits.max_cost}: select fewer fields, or spread each fragment fewer times",
                node,
                extensions={"code": "QUERY_TOO_COMPLEX", "fields": {"maxCost": limits.max_cost}},
            )
        )
    if cost.depth > limits.max_depth:
        errors.append(
            GraphQLError(
                f"'{name}' exceeds maximum operation depth of {limits.max_depth}: nest fewer selections",
                node,
                extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
            )
        )
    if cost.aliases > limits.max_aliases:
        errors.append(
            GraphQLError(
                f"{cost.aliases if cost.aliases <= _SHOWN_MAX else 'over 10^15'} aliases found. "
                f"Allowed: {limits.max_aliases} (fragments counted each time they are spread)",
                node,
                extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
            )
        )
    if node.operation == OperationType.MUTATION and cost.top > limits.max_mutations:
        errors.append(
            GraphQLError(
                f"{cost.top} mutation fields in one operation (aliases included); at most "
                f"{limits.max_mutations}",
                node,
                extensions={"code": "TOO_MANY_MUTATIONS"},
            )
        )
    return errors


class NestingTooDeep(GraphQLError):
    """Brackets nest deeper than the parser's recursion can take."""


def check_nesting(source: str, max_tokens: int, max_nesting: int = MAX_NESTING) -> None:
    """Raises NestingTooDeep if brackets in the first `max_tokens` tokens (those the parser reads
    before it refuses the document) nest deeper than `max_nesting`; GraphQLSyntaxError if they
    do not lex."""
    lexer = Lexer(Source(source))
    depth = 0
    token = lexer.advance()
    for _ in range(max_tokens + 1):
        if token.kind == TokenKind.EOF:
            return
        if token.kind in _OPENING:
            depth += 1
            if depth > max_nesting:
                raise NestingTooDeep(
                    f"brackets nested more than {max_nesting} deep: nest fewer selections, lists or objects",
                    extensions={"code": "GRAPHQL_PARSE_FAILED"},
                )
        elif token.kind in _CLOSING:
            depth -= 1
        token = lexer.advance()
