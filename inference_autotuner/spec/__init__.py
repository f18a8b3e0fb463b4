"""Task spec: pydantic models, YAML/JSON loading, validation with field paths and fix hints.

Parse a spec with services/validate.py (parse_spec, load_spec, validate_spec_file): it adds the checks that know the
engines (flag catalogues, quant/parallel configs, traffic scenarios) to spec/load.py's own."""

from .models import BenchmarkSpec, ModelSpec, OptimizationSpec, SLOSpec, TaskSpec

__all__ = ["BenchmarkSpec", "ModelSpec", "OptimizationSpec", "SLOSpec", "TaskSpec"]
