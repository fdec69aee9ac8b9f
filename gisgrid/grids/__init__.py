"""Unit grids (网格) in the core: editing their boundaries as geometry, with no database."""
