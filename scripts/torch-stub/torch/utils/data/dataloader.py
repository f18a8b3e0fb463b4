from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from .dataset import Dataset, IterableDataset

T_co = TypeVar("T_co", covariant=True)


def get_worker_info() -> None:
	"""Always None: this loader never starts worker processes (torch's num_workers=0 behaviour)."""
	return None


def default_collate(batch: list[Any]) -> list[Any]:
	return batch


class DataLoader(Generic[T_co]):
	"""torch.utils.data.DataLoader's constructor and iteration, in the calling process.

	Batches of `batch_size` items (the last one may be short unless drop_last), each passed through collate_fn;
	`shuffle` reorders a map-style dataset with `generator` (ignored for an iterable dataset, as torch rejects it).
	num_workers, prefetch_factor, pin_memory and the like are accepted and have no effect.
	"""

	def __init__(
		self,
		dataset: Dataset[Any],
		batch_size: int | None = 1,
		shuffle: bool | None = None,
		sampler: Any = None,
		batch_sampler: Any = None,
		num_workers: int = 0,
		collate_fn: Callable[[list[Any]], Any] | None = None,
		pin_memory: bool = False,
		drop_last: bool = False,
		timeout: float = 0,
		worker_init_fn: Any = None,
		multiprocessing_context: Any = None,
		generator: Any = None,
		*,
		prefetch_factor: int | None = None,
		persistent_workers: bool = False,
		**kwargs: Any,
	) -> None:
		if isinstance(dataset, IterableDataset) and shuffle:
			raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle option")
		self.dataset = dataset
		self.batch_size = batch_size
		self.shuffle = bool(shuffle)
		self.num_workers = num_workers
		self.collate_fn = collate_fn if collate_fn is not None else default_collate
		self.drop_last = drop_last
		self.generator = generator

	def _items(self) -> Iterator[Any]:
		if isinstance(self.dataset, IterableDataset):
			yield from self.dataset
			return
		order = list(range(len(self.dataset)))  # type: ignore[arg-type]
		if self.shuffle:
			rng = getattr(self.generator, "random", None)
			if rng is None:
				import random

				rng = random.Random()
			rng.shuffle(order)
		for i in order:
			yield self.dataset[i]

	def __iter__(self) -> Iterator[Any]:
		if self.batch_size is None:
			for item in self._items():
				yield self.collate_fn(item)
			return
		batch: list[Any] = []
		for item in self._items():
			batch.append(item)
			if len(batch) == self.batch_size:
				yield self.collate_fn(batch)
				batch = []
		if batch and not self.drop_last:
			yield self.collate_fn(batch)

	def __len__(self) -> int:
		n = len(self.dataset)  # type: ignore[arg-type]
		if self.batch_size is None:
			return n
		return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
