"""The README stays short and keeps its two commands; what it names and links exists."""

from __future__ import annotations

import re

from tests.helpers import ROOT

README = ROOT / "README.md"
DOCS = [README, ROOT / "CHANGELOG.md", ROOT / "DEVELOPERS.md", *sorted((ROOT / "docs").glob("*.md"))]
APP_COMMAND = "pip install -r requirements.txt && pip install --no-deps -r requirements-nodeps.txt && python app.py"


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def test_readme_is_short_and_keeps_the_app_and_test_commands():
    text = README.read_text()
    assert len(text) <= 12_000, f"README.md has {len(text)} characters; move details to docs/"
    blocks = [block.strip() for block in _bash_blocks(text)]
    assert blocks[0] == APP_COMMAND
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    quiet = ci.replace(" >/dev/null", "").replace("pip install -q ", "pip install ")
    assert blocks[1] == quiet, "the README's test command and .ci/run differ"


def test_every_environment_variable_is_in_the_configuration_table():
    used = {name for path in (ROOT / "mural_inpaint").rglob("*.py")
            for name in re.findall(r"MURALXGAN_[A-Z0-9_]+", path.read_text())}
    table = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(MURALXGAN_[A-Z0-9_]+)`", table))
    assert used and used <= documented, f"not in the README's configuration table: {sorted(used - documented)}"


def test_relative_links_point_at_files_that_exist():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" not in target:
                assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to missing {target}"
