"""Write the quality guardrail's shipped probe set and tiny eval set (docs/quality.md), seeded and generated here.

    python scripts/make_quality_probes.py [--seed 21] [--out inference_autotuner/data]

quality_probes.json: open-ended prompts (continuations, lists, short facts, code) whose greedy next-token
distributions are compared between a configuration and the reference. quality_eval.jsonl: arithmetic and string
tasks with their answers ({prompt, expected, regex}), made from seeded random numbers and words: nothing is copied
from a benchmark.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

ANIMALS = ["fox", "otter", "heron", "badger", "whale", "sparrow", "tiger", "beetle", "salmon", "owl"]
PLACES = ["a harbour town", "the mountains", "a busy market", "an old library", "the desert", "a small farm"]
TOPICS = ["rain", "bridges", "bread", "maps", "clocks", "gardens", "trains", "music", "glass", "salt"]
WORDS = ["apple", "river", "stone", "cloud", "paper", "window", "candle", "forest", "engine", "silver"]
TEMPLATES = [
	"Once upon a time, a {animal} lived in {place}. Every morning it",
	"Here are three facts about {topic}:\n1.",
	"Write one sentence explaining why {topic} matter to people.",
	"The {animal} looked at the {word} and said,",
	'def count_{word}s(items):\n    """Return how many items equal \'{word}\'."""\n',
	"A short poem about {topic} and the {animal}:\n",
	"Q: What is a {word} used for?\nA:",
	"List five words that rhyme with {word}:",
	"In {place}, the most important thing about {topic} is",
	"Translate to French: The {animal} is near the {word}.\nFrench:",
]


def probes(rng: random.Random, n: int) -> list[str]:
	out = []
	for i in range(n):
		template = TEMPLATES[i % len(TEMPLATES)]
		out.append(
			template.format(
				animal=rng.choice(ANIMALS), place=rng.choice(PLACES), topic=rng.choice(TOPICS), word=rng.choice(WORDS)
			)
		)
	return out


def eval_items(rng: random.Random, n: int) -> list[dict[str, str]]:
	items = []
	for i in range(n):
		kind = i % 3
		if kind == 0:
			a, b = rng.randint(1, 20), rng.randint(1, 20)
			prompt = f"Question: What is {a} plus {b}?\nAnswer: {a} plus {b} is"
			items.append({"prompt": prompt, "expected": str(a + b), "regex": r"-?\d+"})
		elif kind == 1:
			a, b = rng.randint(2, 9), rng.randint(2, 9)
			prompt = f"Question: What is {a} times {b}?\nAnswer: {a} times {b} is"
			items.append({"prompt": prompt, "expected": str(a * b), "regex": r"-?\d+"})
		else:
			w = rng.choice(WORDS)
			prompt = f"Repeat the word exactly once.\nWord: {w}\nRepeated:"
			items.append({"prompt": prompt, "expected": w, "regex": r"[A-Za-z]+"})
	return items


def main() -> None:
	ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--seed", type=int, default=21)
	ap.add_argument("--probes", type=int, default=32)
	ap.add_argument("--eval", type=int, default=30)
	ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "inference_autotuner" / "data")
	args = ap.parse_args()
	rng = random.Random(args.seed)
	doc = {"seed": args.seed, "generator": "scripts/make_quality_probes.py", "prompts": probes(rng, args.probes)}
	(args.out / "quality_probes.json").write_text(json.dumps(doc, indent=1) + "\n")
	lines = [json.dumps(item) for item in eval_items(rng, args.eval)]
	(args.out / "quality_eval.jsonl").write_text("\n".join(lines) + "\n")
	print(f"wrote {args.probes} probes and {args.eval} eval items (seed {args.seed}) to {args.out}")


if __name__ == "__main__":
	main()
