"""Unit grids (单元网格): the rules about grids themselves, apart from any database."""
