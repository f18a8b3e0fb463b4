from .dataloader import DataLoader, default_collate, get_worker_info
from .dataset import Dataset, IterableDataset

__all__ = ["DataLoader", "Dataset", "IterableDataset", "default_collate", "get_worker_info"]
