"""A planned request's prompt and request body for the workloads (bench/workload.py): text from a file, shared
prefixes (shared_prefix groups, a trace's Mooncake blocks) and a session's history.

A prompt with a shared prefix is the prefix's text (built once per group or block and reused: the same text, so the
engine's prefix cache can hit) followed by the request's own text; a synthetic part has exactly its tokens, the joined
prompt about their sum (the server's usage gives the exact count). A session turn's messages are the conversation's
system prompt, every earlier turn and the reply the server gave to it, then the new turn; for /v1/completions they
are written out as one text ("User: ...", "Assistant: ...").
"""

from __future__ import annotations

from typing import Any

from .prompts import PromptBuilder


async def build_prompt(builder: PromptBuilder, item: Any, *, completions: bool, block_tokens: int = 512) -> str:
	"""The user text of `item` (a sender.Planned): its file text, or built to its token counts."""
	if item.text is not None:
		return str(item.text)
	parts: list[str] = []
	for variant in item.block_variants:  # a trace's Mooncake prefix blocks, each shared by every request naming it
		parts.append(await builder.build(block_tokens, variant=variant, with_special=completions and not parts))
	if item.prefix_tokens:
		parts.append(
			await builder.build(item.prefix_tokens, variant=item.prefix_variant, with_special=completions and not parts)
		)
	if item.input_tokens > 0 or not parts:
		parts.append(
			await builder.build(max(1, item.input_tokens), variant=item.variant, with_special=completions and not parts)
		)
	return "".join(parts)


def chat_messages(item: Any, prompt: str) -> list[dict[str, str]]:
	"""The chat messages of one request: system prompt, the session's history, the new user turn."""
	messages: list[dict[str, str]] = []
	if item.system:
		messages.append({"role": "system", "content": item.system})
	messages.extend(item.history)
	messages.append({"role": "user", "content": prompt})
	return messages


def completion_text(item: Any, prompt: str) -> str:
	"""A /v1/completions prompt: the prompt itself, or the conversation written out when there is one."""
	if not item.system and not item.history:
		return prompt
	lines = [item.system] if item.system else []
	for m in item.history:
		lines.append(f"{'User' if m['role'] == 'user' else 'Assistant'}: {m['content']}")
	lines.append(f"User: {prompt}")
	lines.append("Assistant:")
	return "\n\n".join(lines)
