"""kameng — back office and API of a 卡盟 digital-goods platform."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kameng")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
