"""Credit Zhejiang (信用浙江) sharing service: the command, settings and local stack.

The pipeline's stages are the sibling packages ``schemas``, ``producers``, ``streams``,
``sink`` and ``query``; this package holds what they share: settings, the error tree,
topic definitions, the local Kafka/PostgreSQL stack and the ``zjcredit`` command.
"""

from zjcredit.errors import (
    ConfigError,
    ServerStartError,
    StackError,
    ToolMissingError,
    ZjcreditError,
)
from zjcredit.settings import Settings

__all__ = [
    "ConfigError",
    "ServerStartError",
    "Settings",
    "StackError",
    "ToolMissingError",
    "ZjcreditError",
]
__version__ = "0.1.0"
