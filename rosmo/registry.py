"""A registry whose names and one-line descriptions are known without importing what they name.

`rosmo.agents.AGENTS` and `rosmo.suites.SUITES` are `LazyRegistry`s: a table of light
entries (the defining module, a description, ...) that `rosmo <command> --help` reads without
importing JAX or TensorFlow, and the registered objects themselves (an `AgentSpec`, a `Suite`),
imported from their module the first time a name is looked up. The table is the registry;
each registry's tests check every entry against the object its module defines.
"""

from __future__ import annotations

import importlib
from collections.abc import MutableMapping
from typing import Any, Callable, Iterator, Mapping, NamedTuple


class LazyRegistry(MutableMapping):
    """name -> registered object, read as a dict; `entry(name)` gives the light entry without importing.

    table: name -> entry, a NamedTuple whose field `module` is the module defining the object.
    attribute: the object's name in that module ("SPEC", "SUITE").
    entry_of: object -> its light entry, for objects registered at run time (`registry[name] = obj`,
      e.g. by a test's `monkeypatch.setitem`).
    """

    def __init__(self, table: Mapping[str, NamedTuple], attribute: str, entry_of: Callable[[Any], NamedTuple]):
        self._entries: dict[str, NamedTuple] = dict(table)
        self._objects: dict[str, Any] = {}
        self._attribute = attribute
        self._entry_of = entry_of

    def entry(self, name: str) -> NamedTuple:
        """The light entry of `name` (KeyError when it is not registered); imports nothing."""
        return self._entries[name]

    def entries(self) -> dict[str, NamedTuple]:
        """name -> light entry, in registration order; imports nothing."""
        return dict(self._entries)

    def __getitem__(self, name: str) -> Any:
        if name not in self._objects:
            module = self._entries[name].module  # KeyError for an unknown name, as a dict
            self._objects[name] = getattr(importlib.import_module(module), self._attribute)
        return self._objects[name]

    def __setitem__(self, name: str, obj: Any) -> None:
        self._entries[name] = self._entry_of(obj)
        self._objects[name] = obj

    def __delitem__(self, name: str) -> None:
        del self._entries[name]
        self._objects.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._entries)})"
