"""Write the API's OpenAPI schema to a file (or stdout) without starting a server.

	python scripts/dump_openapi.py web/openapi.json

The web app's typed client (web/src/api/schema.d.ts) is generated from it: `cd web && npm run gen:api`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's package, not an installed one
from inference_autotuner.api.app import create_app  # noqa: E402


def main() -> None:
	schema = create_app().openapi()
	text = json.dumps(schema, indent=1, sort_keys=True) + "\n"
	if len(sys.argv) > 1:
		with open(sys.argv[1], "w", encoding="utf-8") as f:
			f.write(text)
	else:
		sys.stdout.write(text)


if __name__ == "__main__":
	main()
