"""MkDocs hooks: generated tables in pages, and the results' figures and CSVs served with the site.

- A fenced block ```rosmo-table``` or ```rosmo-dependencies``` in a page is replaced by the table it
  describes (docs/docgen/tables.py); ```rosmo-requirements``` by every pin with its license,
  ```rosmo-packages``` by the package tree with each module's docstring.
- A module path (`rosmo/training/loop.py`) or dotted name (`rosmo.ops.targets.reward_targets`) in a page's
  inline code must exist in the package tree: a page naming a moved or renamed module fails --strict.
- Every PNG and CSV under results/ is added to the site at the same path (results/...), so a page
  links to a figure as `bsuite/coverage_catch/plots/final_scores_catch.png` from docs/results/.
"""

import logging
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))

from docgen import tables  # noqa: E402


class _DocstringMarkup(logging.Filter):
    """Drops warnings about plain-text docstrings read as Markdown (shapes such as `[B, O]` taken for link
    references, continuation indents, untyped `a, b:` parameters); a dotted reference that does not resolve
    (`[rosmo.x.y][]`) still warns, so --strict still fails on it."""

    def filter(self, record):
        message = record.getMessage()
        if "Could not find cross-reference target '" in message:
            return "." in message.split("target '", 1)[1]
        return not ("Confusing indentation" in message or "No type or annotation" in message)


for _name in (
    "mkdocs.plugins.griffe",
    "mkdocs.plugins.mkdocs_autorefs._internal.plugin",
    "mkdocs.plugins.mkdocs_autorefs._internal.references",
):
    logging.getLogger(_name).addFilter(_DocstringMarkup())

_BLOCK = re.compile(
    r"^```(rosmo-table|rosmo-dependencies|rosmo-requirements|rosmo-packages)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S
)


def on_files(files, config):
    for path in sorted((ROOT / "results").rglob("*")):
        if path.suffix in (".png", ".csv") and path.is_file():
            rel = path.relative_to(ROOT).as_posix()
            if files.get_file_from_path(rel) is None:
                files.append(
                    File(
                        rel,
                        src_dir=str(ROOT),
                        dest_dir=config["site_dir"],
                        use_directory_urls=config["use_directory_urls"],
                    )
                )
    return files


_LOG = logging.getLogger("mkdocs.plugins.rosmo_docs")
_INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_PATH = re.compile(r"\brosmo(?:/[\w.*<>-]+)+/?")
_DOTTED = re.compile(r"\brosmo(?:\.[A-Za-z_]\w*)+")


def _missing_names(markdown):
    """Module paths and dotted names in inline code that do not exist in the package tree."""
    missing = []
    for span in _INLINE_CODE.findall(_FENCE.sub("", markdown)):
        for path in _PATH.findall(span):
            if not any(ch in path for ch in "*<>") and not (ROOT / path).exists():
                missing.append(path)
        for dotted in _DOTTED.findall(span):
            parts = dotted.split(".")
            k = 1  # the longest prefix that is a package or module
            while k < len(parts) and (
                (ROOT.joinpath(*parts[: k + 1]).is_dir()) or ROOT.joinpath(*parts[: k + 1]).with_suffix(".py").is_file()
            ):
                k += 1
            if k == 1:
                missing.append(dotted)
                continue
            if k < len(parts):  # an attribute of that module: it must be defined or imported there
                module = ROOT.joinpath(*parts[:k])
                source = (module / "__init__.py") if module.is_dir() else module.with_suffix(".py")
                if not re.search(rf"\b{re.escape(parts[k])}\b", source.read_text()):
                    missing.append(dotted)
    return missing


def on_page_markdown(markdown, page, config, files):
    for name in _missing_names(markdown):
        _LOG.warning(f"{page.file.src_uri}: `{name}` names no module, file or attribute of the package")

    def replace(match):
        kind, body = match.group(1), match.group(2)
        try:
            if kind == "rosmo-table":
                return tables.table(body)
            if kind == "rosmo-dependencies":
                return tables.dependencies(body)
            if kind == "rosmo-packages":
                return tables.packages()
            return tables.all_requirements()
        except tables.TableError as exc:
            raise PluginError(f"{page.file.src_uri}: {kind} block: {exc}") from exc

    return _BLOCK.sub(replace, markdown)
