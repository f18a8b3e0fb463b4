"""Task spec: pydantic models, YAML/JSON loading, validation with field paths and fix hints."""

from .load import load_spec, parse_spec, validate_spec_file
from .models import BenchmarkSpec, ModelSpec, OptimizationSpec, SLOSpec, TaskSpec

__all__ = [
	"BenchmarkSpec",
	"ModelSpec",
	"OptimizationSpec",
	"SLOSpec",
	"TaskSpec",
	"load_spec",
	"parse_spec",
	"validate_spec_file",
]
