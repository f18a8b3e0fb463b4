"""Stand-in for the few PyTorch names GuideLLM 0.8 imports for its data loader: NOT PyTorch.

GuideLLM builds its request stream with `torch.utils.data.DataLoader(IterableDataset, batch_size=1,
collate_fn=..., num_workers=1, generator=torch.Generator())`. Here the loader iterates the dataset in the calling
process (as torch does with num_workers=0) and yields the same items in the same order that torch's single worker
would; `get_worker_info()` is therefore None. Anything else of torch is absent: importing it fails loudly.
"""

from __future__ import annotations

import random

from . import utils

__version__ = "0.0.0"
__all__ = ["Generator", "utils"]


class Generator:
	"""torch.Generator's seeding surface, backed by random.Random."""

	def __init__(self, device: object = None) -> None:
		self._seed = 67280421310721
		self.random = random.Random(self._seed)

	def manual_seed(self, seed: int) -> Generator:
		self._seed = int(seed)
		self.random.seed(self._seed)
		return self

	def initial_seed(self) -> int:
		return self._seed

	def seed(self) -> int:
		return self.manual_seed(random.getrandbits(63)).initial_seed()
