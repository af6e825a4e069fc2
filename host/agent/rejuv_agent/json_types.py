"""The JSON the agent reads and writes (inventory entries, journals, result lines): objects whose
values are checked where they are read, so typed as Any."""

from typing import Any, Dict

JsonObject = Dict[str, Any]
