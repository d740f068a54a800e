"""What every backend offers the op table: numbers, primitive functions, and every op by name."""

from __future__ import annotations

# The primitive functions each backend implements natively; everything else in the op table is
# written in terms of these and `+ - *` (and `/` where the denominator cannot be 0).
PRIMITIVES = ("div", "pow", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "asin",
              "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf",
              "erfc", "abs", "hypot", "max", "min", "gt", "ge", "eq", "sign", "where", "share")


class Backend:
    """Primitives are attributes set by each backend; ops of the table (`B.sigmoid`) are bound
    on first use, so one op's rule can use another op (or itself)."""

    kind = "abstract"

    def __init__(self) -> None:
        self._pairs: dict[int, tuple] = {}
        for name in self.op_names():
            setattr(self, name, _Unbound(self, name))

    def set_primitives(self, functions: dict) -> None:
        """The backend's own implementation of every primitive, as attributes."""
        assert set(functions) == set(PRIMITIVES), set(functions) ^ set(PRIMITIVES)
        for name, function in functions.items():
            setattr(self, name, function)

    @staticmethod
    def op_names() -> list[str]:
        from ..ops import OPS

        return list(OPS)

    def bound(self, entry) -> tuple:
        """(forward, partials) of an op for this backend, bound once per op object."""
        found = self._pairs.get(id(entry))
        if found is None or found[0] is not entry:
            found = self._pairs[id(entry)] = (entry, entry.bind(self))
        return found[1]

    def call(self, op_name: str, *args):
        """Apply the op named `op_name` (a table op or a SymPy function such as `beta#2`)."""
        from ..ops import op_named

        return self.bound(op_named(op_name))[0](*args)

    def undefined_partials(self, code: int, partials, value):
        """The partials of a node whose value is `value`, NaN wherever that value is
        undefined; None when it is defined everywhere (the partials stand as they are)."""
        raise NotImplementedError

    def number(self, value: int | str):
        """A constant of an op's rule: an integer, a decimal or fraction string, pi, e, nan."""
        raise NotImplementedError

    def constant(self, value: float, text: str):
        """A constant of the user's program, with its literal text (`0.1`, `pi`)."""
        raise NotImplementedError



class _Unbound:
    """An op not yet bound to a backend: binds on the first call and puts the bound forward
    in its place, so later calls go straight to it (an attribute hook on the backend class
    itself would slow every attribute lookup in the hot loops)."""

    def __init__(self, backend: Backend, name: str) -> None:
        self.backend, self.name = backend, name

    def __call__(self, *args):
        from ..ops import OPS

        forward = self.backend.bound(OPS[self.name])[0]
        setattr(self.backend, self.name, forward)
        return forward(*args)
