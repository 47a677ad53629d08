"""How layers and scopes get their names: elaboration's naming rule, written once.

Every layer and scope is named inside the scope that owns it (a *prefix*: ``""`` at network
level, ``"inception_3a."`` inside a block instance).  An explicit name (``conv1``, ``x as y``)
must be free there; an automatic name is the op's or block's name, numbered from the second use
on: ``relu``, ``relu_2``, ``relu_3``.  Both the IR (:mod:`archc.elaborate`) and the PyTorch
class generator (:mod:`archc.emit.pytorch.classgen`) name through :class:`ScopeNames`, so the
module paths of the emitted code are the IR's layer paths by construction.

The class generator walks both branches of an ``if`` whose test depends on a block parameter;
:meth:`ScopeNames.fork` and :meth:`ScopeNames.join` keep track of names claimed on only one
path, so an automatic name whose number would depend on the branch taken is reported instead of
guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archc.errors import EmitError, SpecNameError
from archc.source import Span


@dataclass
class _Claim:
    span: Span
    certain: bool = True  # claimed on every path through the ifs walked so far


@dataclass
class ScopeNames:
    """The names taken in each scope prefix; linear however many layers share a base name."""

    used: dict[str, dict[str, _Claim]] = field(default_factory=dict)
    #: (prefix, base) -> the next suffix to try for an automatic name (relu_2, relu_3, ...)
    next_suffix: dict[tuple[str, str], int] = field(default_factory=dict)

    def claim(self, prefix: str, local: str, span: Span, auto: bool = False) -> str:
        """Reserve ``local`` (or, when ``auto``, its next free numbered form) in ``prefix``.

        Returns the local name.  An explicit name that is taken is a :class:`SpecNameError`
        pointing at both uses.
        """
        used = self.used.setdefault(prefix, {})
        name = local
        if auto:
            key = (prefix, local)
            k = self.next_suffix.get(key, 2)
            if k > 2:  # local and local_2 .. local_{k-1} are taken already
                name = f"{local}_{k}"
                k += 1
            while name in used:
                if not used[name].certain:
                    raise EmitError(
                        f"the layer here is called '{prefix}{local}' with a number that depends "
                        "on which branch of an earlier 'if' ran, so one class cannot name it",
                        span,
                        ["name the layer with 'as', or the layers inside the if"],
                    )
                name = f"{local}_{k}"
                k += 1
            self.next_suffix[key] = k
        elif name in used:
            raise SpecNameError(
                f"the name '{prefix}{name}' is already used",
                span,
                ["layer and scope names must be unique; pick another name"],
                notes=[("first used here", used[name].span)],
            )
        used[name] = _Claim(span)
        return name

    def forget(self, prefix: str) -> None:
        """Start ``prefix`` afresh (each iteration of a repeat names its layers anew)."""
        self.used.pop(prefix, None)
        for key in [k for k in self.next_suffix if k[0] == prefix]:
            del self.next_suffix[key]

    def fork(self) -> ScopeNames:
        """A copy to walk one branch of an ``if`` with."""
        return ScopeNames(
            {p: dict(names) for p, names in self.used.items()}, dict(self.next_suffix)
        )

    @staticmethod
    def join(a: ScopeNames, b: ScopeNames) -> ScopeNames:
        """The names after an ``if``: certain when claimed on both paths (and certain there)."""
        used: dict[str, dict[str, _Claim]] = {}
        for prefix in dict.fromkeys([*a.used, *b.used]):
            ua, ub = a.used.get(prefix, {}), b.used.get(prefix, {})
            used[prefix] = {
                name: _Claim(
                    (ua.get(name) or ub[name]).span,
                    name in ua and name in ub and ua[name].certain and ub[name].certain,
                )
                for name in dict.fromkeys([*ua, *ub])
            }
        # an automatic name restarts its scan at the lower counter: the scan checks certainty
        suffix = {
            key: min(a.next_suffix.get(key, 2), b.next_suffix.get(key, 2))
            for key in dict.fromkeys([*a.next_suffix, *b.next_suffix])
        }
        return ScopeNames(used, suffix)
