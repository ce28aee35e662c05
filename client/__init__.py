"""Python client of the SCALE service: `ScaleClient` (sync) and `AsyncScaleClient` (asyncio), on httpx."""

from client.api import ScaleClient
from client.async_api import AsyncScaleClient
from client.calls import npy_bytes
from client.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ScaleAPIError,
    ScaleConnectionError,
    ScaleError,
    ServerError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from client.models import ActionClass, ClassSpec, Prediction, Recognition

__all__ = [
    "ActionClass", "AsyncScaleClient", "AuthenticationError", "BadRequestError", "ClassSpec", "NotFoundError",
    "PayloadTooLargeError", "Prediction", "RateLimitedError", "Recognition", "ScaleAPIError", "ScaleClient",
    "ScaleConnectionError", "ScaleError", "ServerError", "ServiceUnavailableError", "UnsupportedMediaTypeError",
    "ValidationError", "npy_bytes",
]
