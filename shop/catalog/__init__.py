"""Data packs: the catalog of what the shop sells."""
