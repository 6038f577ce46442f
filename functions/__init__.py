"""WikiRoam's deployed code: the Lambda handlers and what they share."""

__version__ = "0.1.0"
