"""Incremental detokenization: turn a growing token list into new text pieces."""
from __future__ import annotations


class IncrementalDecoder:
    """Decode one row's tokens as they come, returning only the new text each time.

    Text ending in an incomplete UTF-8 sequence (decoded as U+FFFD) is held back until the
    next token completes it, so a streamed character is never split.
    """

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.emitted = 0

    def _text(self) -> str:
        return self.tokenizer.decode(
            self.ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        text = self._text()
        if text.endswith("\ufffd"):
            return ""
        piece, self.emitted = text[self.emitted :], len(text)
        return piece

    def flush(self) -> str:
        text = self._text()
        piece, self.emitted = text[self.emitted :], len(text)
        return piece
