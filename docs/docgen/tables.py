"""Tables generated from result CSVs and requirements.txt, for fenced blocks in the docs pages.

A page asks for a table with a fenced block; the build replaces it (docs/hooks.py), so the numbers on
a page are always those of the committed CSV:

    ```rosmo-table
    csv: results/bsuite/summary.csv      # relative to the repository root
    where: study=coverage, env=catch      # keep rows whose fields have these values (a|b: either)
    rows: env, data_percentage            # one table row per combination of these fields
    columns: algo                         # one table column per value of these fields (omit: list rows)
    fields: env, iqm                      # list rows: the fields shown; labels: iqm=IQM renames headers
    value: iqm_ci                         # iqm_ci: "IQM [low, high]"; mean_ci: "mean [low, high]"; or a column
    agg: mean                             # several rows in a cell: mean (default: the single row)
    format: .2f
    seeds: true                           # append (n_seeds)
    order: algo=rosmo|mzu|bc|cql          # column order of a field's values
    column: MZU + BC = algo=mzu, options=mzu_bc_loss_weight=3.0   # instead of columns: one per line
    column: BC = ; value=bc_iqm_ci        # a column's own value, format, ... after ';'
    ```

`value: <prefix>iqm_ci` reads `<prefix>iqm`, `<prefix>ci_low` and `<prefix>ci_high`; `value: mean_ci` reads
`mean`, `low` and `high` (the columns of `rosmo report --ope`'s ope.csv).

    ```rosmo-dependencies
    jax, jaxlib: arrays, jit, the learner's device mesh
    ```
"""

from __future__ import annotations

import csv
import re
from collections import OrderedDict
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class TableError(ValueError):
    """A table block that cannot be built (names the block's field and what was expected)."""


def _parse(body: str) -> dict[str, object]:
    spec: dict[str, object] = {"column": []}
    for line in body.splitlines():
        line = line.split("  #", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise TableError(f"table line {line!r}: expected 'key: value'")
        if key.strip() == "column":
            label, eq, conds = value.partition("=")
            if not eq:
                raise TableError(f"column {value!r}: expected 'LABEL = field=value, ...'")
            spec["column"].append((label.strip(), conds.strip()))
        else:
            spec[key.strip()] = value.strip()
    return spec


def _norm(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number == int(number) else repr(number)


def _fields(text: str) -> list[str]:
    return [f.strip() for f in text.split(",") if f.strip()]


def _read(path: str) -> list[dict[str, str]]:
    full = ROOT / path
    if not full.is_file():
        raise TableError(f"csv: {path} does not exist")
    with open(full, newline="") as f:
        return list(csv.DictReader(f))


def _matches(row: dict[str, str], where: str) -> bool:
    for cond in _fields(where):
        key, _, values = cond.partition("=")
        if key.strip() not in row:
            raise TableError(f"where: no column {key.strip()!r}")
        if _norm(row[key.strip()]) not in {_norm(v) for v in values.split("|")}:
            return False
    return True


def _label(row: dict[str, str], keys: list[str]) -> str:
    return ", ".join(_norm(row[k]) if row[k] != "" else "-" for k in keys)


def _value(rows: list[dict[str, str]], spec: dict[str, str]) -> str:
    if not rows:
        return ""
    fmt = spec.get("format", ".2f")
    what = spec.get("value", "iqm_ci")
    agg = spec.get("agg", "")

    def num(x: str) -> str:
        return format(float(x), fmt)

    if len(rows) > 1 and agg != "mean":
        raise TableError(
            f"{len(rows)} rows for one cell ({_label(rows[0], list(rows[0]))}): add rows/columns or agg: mean"
        )
    if what == "mean_ci" or what.endswith("iqm_ci"):  # "mean [low, high]" or "<prefix>iqm [<prefix>ci_low, ...]"
        if len(rows) > 1:
            raise TableError(f"value: {what} cannot be averaged")
        r = rows[0]
        if what == "mean_ci":
            center, low, high, missing = "mean", "low", "high", "–"
        else:
            prefix = what[: -len("iqm_ci")]
            center, missing = f"{prefix}iqm", ""
            low, high = (f"{prefix}ci_low", f"{prefix}ci_high") if f"{prefix}ci_low" in r else ("iqm_low", "iqm_high")
        if r.get(center, "") in ("", "nan"):
            return missing
        text = num(r[center])
        if r.get(low, "") not in ("", "nan"):
            text += f" [{num(r[low])}, {num(r[high])}]"
    elif agg == "mean":
        values = [float(r[what]) for r in rows if r[what] != ""]
        text = format(sum(values) / len(values), fmt) if values else ""
    else:
        raw = rows[0][what]
        try:
            text = num(raw)
        except ValueError:
            text = raw
    if spec.get("seeds", "").lower() == "true":
        seeds = rows[0].get("n_seeds") or rows[0].get("seeds")
        if seeds:
            text += f" ({seeds})"
    return text


def _ordered(values: list[str], field_order: dict[str, list[str]], keys: list[str]) -> list[str]:
    if len(keys) != 1 or keys[0] not in field_order:
        return values
    order = field_order[keys[0]]
    return sorted(values, key=lambda v: order.index(v) if v in order else len(order))


def table(body: str) -> str:
    """Markdown table of a `rosmo-table` block."""
    spec = _parse(body)
    if "csv" not in spec:
        raise TableError("csv: expected the path of a CSV file under results/")
    data = [r for r in _read(spec["csv"]) if _matches(r, spec.get("where", ""))]
    if not data:
        raise TableError(f"no row of {spec['csv']} matches where: {spec.get('where', '')}")
    row_keys = _fields(spec.get("rows", ""))
    col_keys = _fields(spec.get("columns", ""))
    field_order = {}
    for item in _fields(spec.get("order", "")):
        key, _, values = item.partition("=")
        field_order[key.strip()] = [_norm(v) for v in values.split("|")]
    for key in row_keys + col_keys:
        if key not in data[0]:
            raise TableError(f"no column {key!r} in {spec['csv']}")
    if spec["column"]:  # explicit columns, each its own filter
        cells_by_row: OrderedDict[str, dict[str, list[dict[str, str]]]] = OrderedDict()
        for r in data:
            cells_by_row.setdefault(_label(r, row_keys), {})
        column_specs = {}
        for label, conds in spec["column"]:
            conds, *options = conds.split(";")
            column_specs[label] = dict(spec)
            for option in filter(None, (o.strip() for o in options)):
                key, eq, value = option.partition("=")
                if not eq:
                    raise TableError(f"column {label!r}: option {option!r}: expected KEY=VALUE")
                column_specs[label][key.strip()] = value.strip()
            for r in data:
                if _matches(r, conds):
                    cells_by_row[_label(r, row_keys)].setdefault(label, []).append(r)
        labels = [label for label, _ in spec["column"]]
        row_labels = [rl for rl in _ordered(list(cells_by_row), field_order, row_keys) if cells_by_row[rl]]
        header = spec.get("header", ", ".join(row_keys))
        lines = ["| " + header + " | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        for rl in row_labels:
            lines.append(
                "| "
                + rl
                + " | "
                + " | ".join(_value(cells_by_row[rl].get(c, []), column_specs[c]) for c in labels)
                + " |"
            )
        return "\n".join(lines)
    if not col_keys:  # a list of the matching rows
        shown = _fields(spec.get("fields", "")) or list(data[0])
        labels = dict(item.split("=", 1) for item in _fields(spec.get("labels", "")) if "=" in item)
        lines = ["| " + " | ".join(labels.get(f, f).strip() for f in shown) + " |", "|" + "---|" * len(shown)]
        for r in data:
            lines.append("| " + " | ".join(r.get(f, "") for f in shown) + " |")
        return "\n".join(lines)
    cells: OrderedDict[str, dict[str, list[dict[str, str]]]] = OrderedDict()
    columns: list[str] = []
    for r in data:
        rl, cl = _label(r, row_keys), _label(r, col_keys)
        cells.setdefault(rl, {}).setdefault(cl, []).append(r)
        if cl not in columns:
            columns.append(cl)
    columns = _ordered(columns, field_order, col_keys)
    row_labels = _ordered(list(cells), field_order, row_keys)
    header = spec.get("header", ", ".join(row_keys))
    lines = ["| " + header + " | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for rl in row_labels:
        lines.append("| " + rl + " | " + " | ".join(_value(cells[rl].get(c, []), spec) for c in columns) + " |")
    return "\n".join(lines)


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[_key(name)] = version.strip()
    return pins


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0].strip()).lower()


def license_of(name: str) -> str:
    """The license a package declares in its installed metadata (no download)."""
    try:
        meta = metadata.metadata(name)
    except metadata.PackageNotFoundError:
        return "(not installed)"
    text = meta.get("License-Expression") or ""
    if not text:
        classifiers = [
            c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
        ]
        text = ", ".join(classifiers) or (meta.get("License") or "").strip()
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def dependencies(body: str) -> str:
    """Markdown table of a `rosmo-dependencies` block: packages, pinned versions, licenses, role."""
    pins = _pins()
    lines = ["| package | pinned | license | why it is here |", "|---|---|---|---|"]
    for line in body.splitlines():
        if not line.strip():
            continue
        names, sep, role = line.partition(":")
        if not sep:
            raise TableError(f"dependency line {line!r}: expected 'package[, package]: role'")
        packages = _fields(names)
        versions = ", ".join(pins.get(_key(p), "extra") for p in packages)
        licenses = ", ".join(dict.fromkeys(license_of(p) for p in packages))
        lines.append(f"| {', '.join(packages)} | {versions} | {licenses} | {role.strip()} |")
    return "\n".join(lines)


def all_requirements() -> str:
    """Markdown table of every pin in requirements.txt with its declared license."""
    lines = ["| package | pinned | license |", "|---|---|---|"]
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            lines.append(f"| {name} | {version} | {license_of(name)} |")
    return "\n".join(lines)


def _first_line(path: Path) -> str:
    import ast

    try:
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    except SyntaxError:
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def packages() -> str:
    """Markdown table of the package tree: each subpackage and module with its docstring's first paragraph."""
    package = ROOT / "rosmo"
    lines = ["| module | what it holds |", "|---|---|"]
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts or path.name == "__main__.py":
            continue
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
            name = "**" + "/".join(parts) + "/**"
        else:
            name = "/".join(parts) + ".py"
        doc = _first_line(path).replace("|", "\\|")
        lines.append(f"| `{name.replace('**', '')}` | {doc} |")
    return "\n".join(lines)
