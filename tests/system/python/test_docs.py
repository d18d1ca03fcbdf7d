"""The Python examples in README.md and bindings/python/README.md run as
printed (node 0 declared private, so that "the nearest private node"
exists on any host); their asserts check the placement."""
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO


def python_blocks(path, section):
    text = path.read_text()
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], re.S)


@pytest.mark.parametrize("path, section", [
    (REPO / "README.md", "## From Python"),
    (REPO / "bindings" / "python" / "README.md", "## Example"),
])
def test_readme_example_runs(path, section, host):
    (code,) = python_blocks(path, section)
    env = dict(os.environ, PMNODE_PRIVATE_NODES="0")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert "'allocated': 1048576" in p.stdout       # the arena's stats were printed
