"""The fenced code blocks of README.md, for the tests that run them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

README_PATH = Path(__file__).resolve().parents[1] / "README.md"


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: its language (the first word of the fence's info), code and line."""

    language: str
    code: str
    line: int

    @property
    def test_id(self) -> str:
        return f"{self.language}-line-{self.line}"


def readme_code_blocks(path: Path = README_PATH) -> list[CodeBlock]:
    """Every fenced code block of a Markdown file, in order."""
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    return [
        CodeBlock(
            language=(token.info.split() or [""])[0],
            code=token.content,
            # token.map holds the fence's 0-based first line; count from 1, as editors do
            line=token.map[0] + 1 if token.map else 0,
        )
        for token in tokens
        if token.type == "fence"
    ]
