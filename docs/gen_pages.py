"""mkdocs-gen-files script: writes the generated reference pages into the build (never into docs/).

reference/cli.md, reference/config.md and reference/api/*.md (one page per subpackage of `rosmo`, found
by walking the package) with their navigation files. Nothing is downloaded; the registries and parsers
are imported from the package being documented.
"""

import sys
from collections import defaultdict
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docgen import reference  # noqa: E402

with mkdocs_gen_files.open("reference/cli.md", "w") as f:
    f.write(reference.cli_page())
with mkdocs_gen_files.open("reference/config.md", "w") as f:
    f.write(reference.config_page())

groups = defaultdict(list)  # top-level subpackage (or "rosmo" for top-level modules) -> modules
for module in reference.api_modules():
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 and (reference.PACKAGE / parts[1]).is_dir() else "rosmo"
    groups[top].append(module)

summary = []
for top in sorted(groups, key=lambda name: (name != "rosmo", name)):
    page = f"reference/api/{top}.md"
    title = "rosmo (top level)" if top == "rosmo" else f"rosmo.{top}"
    with mkdocs_gen_files.open(page, "w") as f:
        f.write(f"# {title}\n\nGenerated from the docstrings.\n\n")
        for module in groups[top]:
            f.write(f"::: {module}\n    options:\n      heading_level: 2\n      show_submodules: false\n\n")
    summary.append(f"- [{title}]({top}.md)")
with mkdocs_gen_files.open("reference/api/SUMMARY.md", "w") as f:
    f.write("\n".join(summary) + "\n")
with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as f:
    f.write("- [Command line](cli.md)\n- [Config fields](config.md)\n- [API](api/)\n")
