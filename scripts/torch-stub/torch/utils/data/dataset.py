from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
	"""A map-style dataset: __getitem__(index) and __len__."""

	def __getitem__(self, index: int) -> T_co:
		raise NotImplementedError


class IterableDataset(Dataset[T_co]):
	"""An iterable-style dataset: __iter__."""

	def __iter__(self) -> Iterator[T_co]:
		raise NotImplementedError
