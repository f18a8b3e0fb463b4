"""GGUF -> Hugging Face folder (config, tokenizer, bf16 safetensors), run by an interpreter that has transformers,
gguf and torch (the vLLM tools venv): `python gguf_to_hf.py MODEL.gguf OUT_DIR`. Never imported by the tuner.

transformers reads the GGUF and dequantizes every tensor; the GGUF "quantizer" it attaches is dropped before saving
so the folder is a plain bf16 checkpoint any engine (vLLM, SGLang) loads. Nothing is downloaded (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Run by path, this file's folder comes first on sys.path, where engines/vllm.py would shadow the real vllm package.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
	del sys.path[0]


def convert(gguf: Path, out: Path) -> None:
	os.environ["HF_HUB_OFFLINE"] = "1"
	import torch
	from transformers import AutoModelForCausalLM, AutoTokenizer

	folder, name = str(gguf.parent), gguf.name
	tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
	model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16)
	model.hf_quantizer = None
	for holder in (model, model.config):
		if hasattr(holder, "quantization_config"):
			delattr(holder, "quantization_config")
	model.config.torch_dtype = torch.bfloat16
	out.mkdir(parents=True, exist_ok=True)
	model.save_pretrained(str(out), safe_serialization=True)
	tokenizer.save_pretrained(str(out))


if __name__ == "__main__":
	if len(sys.argv) != 3:
		sys.exit(__doc__)
	convert(Path(sys.argv[1]), Path(sys.argv[2]))
