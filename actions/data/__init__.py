from actions.data import records

__all__ = ["records"]
