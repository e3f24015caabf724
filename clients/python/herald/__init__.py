"""Herald for Python back ends: hand events to a Herald hub through its webhook or its Redis
stream source. See README.md; herald.django for Django, herald.aio for asyncio."""

__version__ = "0.1.0"

from .client import Client  # noqa: E402
from .errors import (AuthenticationFailed, ConfigurationError, HeraldError,  # noqa: E402
                     InvalidEvent, Refused, Unavailable)
from .events import Batch, HeraldJSONEncoder  # noqa: E402
from .retry import RetryPolicy  # noqa: E402
from .transport import Receipt  # noqa: E402

__all__ = [
    "AuthenticationFailed", "Batch", "Client", "ConfigurationError", "HeraldError",
    "HeraldJSONEncoder", "InvalidEvent", "Receipt", "Refused", "RetryPolicy", "Unavailable",
    "__version__",
]
