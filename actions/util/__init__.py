from actions.util import basic

__all__ = ["basic"]
