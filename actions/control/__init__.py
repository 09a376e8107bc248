from actions.control import before_save, branching, flow

__all__ = ["before_save", "branching", "flow"]
