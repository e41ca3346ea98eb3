"""The vendors' HTTP layer: thin handlers named after operations, one error renderer per vendor."""
