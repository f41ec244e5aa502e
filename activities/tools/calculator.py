"""`calculator`: arithmetic on an expression, parsed with `ast` and never evaluated as code."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

from activities.tools.registry import ToolContext, ToolError, implements
from core.contracts.tools import CalculatorArgs

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
# Keeps `9**9**9` from eating the worker.
MAX_EXPONENT = 1000
MAX_MAGNITUDE = 1e300


def evaluate(expression: str) -> float:
    """+ - * / // % ** and parentheses over numbers; anything else is refused."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as err:
        raise ToolError(f"not an arithmetic expression: {err.msg}") from None
    return _value(tree.body)


def _value(node: ast.expr) -> float:
    constant = node.value if isinstance(node, ast.Constant) else None
    # True and False are ints to Python, but not numbers to a calculator.
    if isinstance(constant, int | float) and not isinstance(constant, bool):
        return constant
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolError(f"exponent {right:g} is larger than {MAX_EXPONENT}")
        try:
            result = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ToolError("division by zero") from None
        except OverflowError:
            raise ToolError("the result is too large") from None
        if isinstance(result, complex) or abs(result) > MAX_MAGNITUDE:
            raise ToolError("the result is too large or not a real number")
        return result
    raise ToolError(f"unsupported element: {ast.dump(node)[:60]}")


@implements("calculator")
async def calculator(args: CalculatorArgs, ctx: ToolContext) -> str:
    result = evaluate(args.expression)
    return f"{result:g}" if isinstance(result, float) else str(result)
