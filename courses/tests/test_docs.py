"""README.md's configuration table against .env.example: the same variables, each
with its own description and a real default."""

import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def _readme_table() -> dict[str, tuple[str, str]]:
    readme = (BASE_DIR / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| (.+?) \| (.+?) \|$", section, re.M)
    return {name: (default, description) for name, default, description in rows}


def _env_example_names() -> set[str]:
    text = (BASE_DIR / ".env.example").read_text()
    return set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, re.M))


def test_the_configuration_table_lists_exactly_the_variables_of_env_example():
    assert set(_readme_table()) == _env_example_names()


def test_each_variable_has_its_own_description_and_a_stated_default():
    table = _readme_table()
    descriptions = [description for _default, description in table.values()]

    assert len(set(descriptions)) == len(descriptions)
    assert not [name for name, (default, _) in table.items() if "(empty)" in default]
